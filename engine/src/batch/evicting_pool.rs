//! The engine's memory pool: DataFusion's fair pool, with the kept file columns
//! (`column_memory.rs`) counted in it and given up when a query needs the room.
//!
//! Kept columns are a convenience; a query's memory is not. The columns reserve their bytes in
//! the same pool as queries, so the two share one limit; when a query's reservation does not
//! fit, the least recently used tables' columns are dropped until it does, and it is tried
//! again. Only if nothing kept is left does the query see the pool's error (and spill or fail
//! as it would have).

use super::column_memory::ColumnMemory;
use datafusion::common::Result;
use datafusion::execution::memory_pool::{MemoryLimit, MemoryPool, MemoryReservation};
use std::fmt;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct EvictingPool {
    inner: Arc<dyn MemoryPool>,
    columns: Arc<ColumnMemory>,
}

impl EvictingPool {
    /// `columns` must reserve in `inner` itself: its own reservations never evict.
    pub(crate) fn new(inner: Arc<dyn MemoryPool>, columns: Arc<ColumnMemory>) -> Self {
        EvictingPool { inner, columns }
    }
}

impl fmt::Display for EvictingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (kept file columns give way)", self.inner)
    }
}

impl MemoryPool for EvictingPool {
    fn name(&self) -> &str {
        "eddy_evicting_pool"
    }

    fn register(&self, consumer: &datafusion::execution::memory_pool::MemoryConsumer) {
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &datafusion::execution::memory_pool::MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional)
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink)
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let refused = match self.inner.try_grow(reservation, additional) {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        };
        // Drop kept columns, least recently used first, and try again after each.
        while self.columns.give_way() {
            if self.inner.try_grow(reservation, additional).is_ok() {
                return Ok(());
            }
        }
        Err(refused)
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::column_memory::tests::{rows, stamp};
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer};

    /// An engine's pool of 1,000 bytes, with kept columns allowed 600 of them.
    fn pool() -> (Arc<dyn MemoryPool>, Arc<ColumnMemory>) {
        let fair: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(1_000));
        let columns = Arc::new(ColumnMemory::in_pool(600, &fair));
        let pool: Arc<dyn MemoryPool> = Arc::new(EvictingPool::new(fair, columns.clone()));
        (pool, columns)
    }

    #[test]
    fn a_query_that_needs_the_room_drops_the_least_recently_used_columns() {
        let (pool, columns) = pool();
        columns.keep(1, stamp(1), vec![0], rows(1), 300);
        columns.keep(2, stamp(1), vec![0], rows(1), 200);
        assert_eq!(pool.reserved(), 500);
        let query = MemoryConsumer::new("a hash join").register(&pool);
        // 700 fits once table 1's 300 bytes go; table 2's stay.
        query.try_grow(700).unwrap();
        assert!(columns.kept(1).is_none());
        assert!(columns.kept(2).is_some());
        assert_eq!(pool.reserved(), 900);
        // Columns read while the query holds its memory are kept only as far as they fit.
        columns.keep(3, stamp(1), vec![0], rows(1), 400);
        assert!(columns.kept(3).is_none(), "nothing past the pool is kept");
        assert!(
            columns.kept(2).is_none(),
            "older columns made what room they could"
        );
        assert_eq!(pool.reserved(), 700);
    }

    #[test]
    fn a_query_too_big_for_the_pool_gets_its_error_after_the_columns_went() {
        let (pool, columns) = pool();
        columns.keep(1, stamp(1), vec![0], rows(1), 300);
        let query = MemoryConsumer::new("a sort").register(&pool);
        let error = query.try_grow(1_200).unwrap_err().to_string();
        assert!(error.contains("a sort"), "{error}");
        assert!(columns.kept(1).is_none());
        assert_eq!(pool.reserved(), 0);
    }
}
