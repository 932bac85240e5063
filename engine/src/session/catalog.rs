//! What the engine keeps of each table beside DataFusion's catalog: the `WITH` options it
//! was declared with, the stream it is (for tables whose rows arrive over time) or the view
//! over streams, its cached rows, and the count of malformed rows its reading skipped. One
//! lock over one map, so a table's parts come and go together.

use super::table_like::TableDdl;
use crate::batch::cache::Cached;
use crate::stream::catalog::{StreamRelations, StreamTable};
use crate::stream::sink::SinkDecl;
use crate::stream::views::StreamView;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// What is known of one table.
#[derive(Default)]
struct Entry {
    /// The `WITH` options of a table declared with a connector.
    options: Option<BTreeMap<String, String>>,
    /// The declaration of a table declared with a connector, for `CREATE TABLE … LIKE` it.
    ddl: Option<Arc<TableDdl>>,
    /// Set for a table whose rows arrive over time.
    stream: Option<StreamTable>,
    /// Set for a view over streams.
    view: Option<StreamView>,
    /// Set while the table is cached (`CACHE TABLE`).
    cached: Option<Cached>,
    /// Rows skipped as malformed so far (tables that ignore parse errors).
    skipped: Option<Arc<AtomicU64>>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.options.is_none()
            && self.ddl.is_none()
            && self.stream.is_none()
            && self.view.is_none()
            && self.cached.is_none()
            && self.skipped.is_none()
    }
}

/// The session's tables, by name. Cheap to share: clones see the same tables.
#[derive(Default, Clone)]
pub(crate) struct Catalog {
    tables: Arc<RwLock<HashMap<String, Entry>>>,
}

impl Catalog {
    // A panic while the lock was held cannot leave a map half-changed: every change is one
    // insert or remove. So a poisoned lock is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.tables
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.tables
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A bounded table declared with a connector; replaces all that was known of `name`.
    pub(crate) fn declare_table(
        &self,
        name: &str,
        options: BTreeMap<String, String>,
        skipped: Option<Arc<AtomicU64>>,
    ) {
        let entry = Entry {
            options: Some(options),
            skipped,
            ..Entry::default()
        };
        self.write().insert(name.to_string(), entry);
    }

    /// A stream table; replaces all that was known of `name`.
    pub(crate) fn declare_stream(
        &self,
        name: &str,
        options: BTreeMap<String, String>,
        stream: StreamTable,
    ) {
        let entry = Entry {
            options: Some(options),
            stream: Some(stream),
            ..Entry::default()
        };
        self.write().insert(name.to_string(), entry);
    }

    /// Keeps the declaration `name` was made from (after [`Self::declare_table`] or
    /// [`Self::declare_stream`]).
    pub(crate) fn keep_ddl(&self, name: &str, ddl: TableDdl) {
        if let Some(entry) = self.write().get_mut(name) {
            entry.ddl = Some(Arc::new(ddl));
        }
    }

    /// The declaration of a table declared with a connector, and its options.
    pub(crate) fn ddl(&self, name: &str) -> Option<(Arc<TableDdl>, BTreeMap<String, String>)> {
        let tables = self.read();
        let entry = tables.get(name)?;
        Some((entry.ddl.clone()?, entry.options.clone()?))
    }

    /// A view over streams; replaces all that was known of `name`.
    pub(crate) fn declare_view(&self, name: &str, view: StreamView) {
        let entry = Entry {
            view: Some(view),
            ..Entry::default()
        };
        self.write().insert(name.to_string(), entry);
    }

    /// A table was dropped or replaced: its source, stream, cached rows and count go.
    pub(crate) fn forget(&self, name: &str) {
        self.write().remove(name);
    }

    pub(crate) fn cache(&self, name: &str, cached: Cached) {
        self.write().entry(name.to_string()).or_default().cached = Some(cached);
    }

    /// Takes the cached rows of `name` out of the catalog, if it was cached.
    pub(crate) fn uncache(&self, name: &str) -> Option<Cached> {
        let mut tables = self.write();
        let entry = tables.get_mut(name)?;
        let cached = entry.cached.take();
        if entry.is_empty() {
            tables.remove(name);
        }
        cached
    }

    /// Bytes a cached table holds in memory; `None` for a table that is not cached.
    pub(crate) fn cached_bytes(&self, name: &str) -> Option<usize> {
        self.read().get(name)?.cached.as_ref().map(|c| c.bytes)
    }

    /// Bytes all cached tables hold.
    pub(crate) fn cached_total(&self) -> usize {
        self.read()
            .values()
            .filter_map(|entry| entry.cached.as_ref())
            .map(|cached| cached.bytes)
            .sum()
    }

    /// Malformed rows skipped by all bounded tables so far; a statement's share is the
    /// difference before and after it.
    pub(crate) fn skipped_total(&self) -> u64 {
        self.read()
            .values()
            .filter_map(|entry| entry.skipped.as_ref())
            .map(|count| count.load(Ordering::Relaxed))
            .sum()
    }

    /// Whether queries over `name` run continuously: a stream table or a view over streams.
    pub(crate) fn is_stream(&self, name: &str) -> bool {
        self.read()
            .get(name)
            .is_some_and(|e| e.stream.is_some() || e.view.is_some())
    }

    /// The stream tables and views, by name, as a continuous query starts with them.
    pub(crate) fn streams(&self) -> StreamRelations {
        let tables = self.read();
        StreamRelations {
            tables: tables
                .iter()
                .filter_map(|(name, entry)| Some((name.clone(), entry.stream.clone()?)))
                .collect(),
            views: tables
                .iter()
                .filter_map(|(name, entry)| Some((name.clone(), entry.view.clone()?)))
                .collect(),
        }
    }

    /// The columns an INSERT without a column list writes into `name`, when that is not all
    /// of them: Flink leaves VIRTUAL metadata columns out.
    pub(crate) fn written_columns(&self, name: &str) -> Option<Vec<String>> {
        let tables = self.read();
        let ddl = tables.get(name)?.ddl.as_ref()?;
        let skipped: Vec<&str> = ddl
            .flink
            .metadata
            .iter()
            .filter(|m| m.is_virtual)
            .map(|m| m.name.as_str())
            .collect();
        if skipped.is_empty() {
            return None;
        }
        Some(
            ddl.create
                .columns
                .iter()
                .map(|c| crate::sql::names::column_name(&c.name))
                .filter(|c| !skipped.contains(&c.as_str()))
                .collect(),
        )
    }

    /// What every table declared with a connector declares for an INSERT into it: its
    /// options, partition columns and primary key, by name.
    pub(crate) fn all_sink_decls(&self) -> HashMap<String, SinkDecl> {
        self.read()
            .iter()
            .filter_map(|(name, entry)| {
                let options = entry.options.clone()?;
                let create = entry.ddl.as_ref().map(|ddl| &ddl.create);
                Some((
                    name.clone(),
                    SinkDecl {
                        options,
                        partition_by: create
                            .map(super::table_like::partition_keys)
                            .unwrap_or_default(),
                        primary_key: create
                            .map(super::table_like::primary_key)
                            .unwrap_or_default(),
                        metadata: entry
                            .ddl
                            .as_ref()
                            .map(|ddl| ddl.flink.metadata.clone())
                            .unwrap_or_default(),
                        declared: entry.stream.as_ref().map(|s| s.schema.clone()),
                    },
                ))
            })
            .collect()
    }

    /// The `WITH` options `name` was declared with (empty for other tables).
    pub(crate) fn options(&self, name: &str) -> BTreeMap<String, String> {
        self.read()
            .get(name)
            .and_then(|entry| entry.options.clone())
            .unwrap_or_default()
    }
}
