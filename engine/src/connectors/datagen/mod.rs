//! `'connector' = 'datagen'`: rows made up as they are needed, as Flink's datagen makes them.
//!
//! Table options: `rows-per-second` (default 10000; 1e9 or more means as fast as the query
//! takes them), `number-of-rows` (makes the table bounded) and Eddy's `seed` (a u64: the
//! same seed gives the same rows, whatever the batch sizes).
//!
//! Column options `fields.<column>.<option>`:
//! - `kind`: `random` (the default) or `sequence`.
//! - numbers (TINYINT … BIGINT, FLOAT, DOUBLE, DECIMAL), random: `min`, `max` (Flink's
//!   defaults: the type's range for integers, Float.MIN_VALUE to Float.MAX_VALUE for
//!   floating point, 0 to the largest value the precision holds for DECIMAL), `null-rate`
//!   (0 to 1, default 0); sequence: `start` and `end` (both required), counting up by 1.
//! - STRING / VARCHAR, random: `length` (default 100) of alphanumeric characters,
//!   `var-len` (a random length from 1 to `length`), `null-rate`; sequence: `start` and
//!   `end`, whole numbers written as text.
//! - BOOLEAN: random only, `null-rate`.
//! - TIMESTAMP(p), TIMESTAMP_LTZ(p), DATE: a clock. With `start` (a timestamp such as
//!   '2024-01-01 00:00:00'), row i's clock is start + i × `step` (an interval such as
//!   '100 ms' or '2 minutes'; default 1 second / rows-per-second): deterministic. Without
//!   `start`, the clock is the wall clock (UTC) when the row's batch is made. `kind` random
//!   (the default) subtracts a random 0 to `max-past` (an interval, default 0), which puts
//!   rows out of order; `kind` sequence uses the clock as it is. `null-rate` for random.
//!
//! A sequence that runs out ends the source, as in Flink; so does `number-of-rows`.
//! Values are made column by column, each column with its own generator seeded from the
//! table's seed, so a column's values do not depend on how rows are cut into batches.
//!
//! `options.rs` reads the options into a plan per column, `columns.rs` has a generator per
//! kind of column, and `source.rs` paces the batches.

mod columns;
mod options;
mod source;
#[cfg(test)]
mod tests;

use super::connector::{Connector, CountedSource, Declaration, Declared};
use super::ConnectorOptions;
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use datafusion::arrow::datatypes::SchemaRef;
use source::DatagenFactory;
use std::sync::Arc;
use std::time::Duration;

/// The slowest rate: a row every 1,000 seconds.
const MIN_ROWS_PER_SECOND: f64 = 0.001;

const DEFAULT_ROWS_PER_SECOND: f64 = 10_000.0;
/// A rate this high or higher means no pacing at all.
const UNTHROTTLED: f64 = 1e9;
const DEFAULT_STRING_LENGTH: usize = 100;
const MAX_STRING_LENGTH: usize = 1 << 20;
/// Batches hold at most this many rows, or `FAST_BATCH` at high rates.
const BATCH: usize = 8192;
const FAST_BATCH: usize = 65_536;
/// A paced source sends about every this long.
const TICK: Duration = Duration::from_millis(10);
/// String bytes one batch may hold.
const BATCH_TEXT_BYTES: usize = 64 << 20;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

const TYPES: &str = "datagen makes TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL, \
    BOOLEAN, STRING/VARCHAR, TIMESTAMP(p), TIMESTAMP_LTZ(p), DATE, and ROW, ARRAY and MAP of \
    those";

/// `'connector' = 'datagen'`.
pub(crate) struct Datagen;

impl Connector for Datagen {
    fn name(&self) -> &'static str {
        "datagen"
    }

    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError> {
        Ok(Declared::Stream(CountedSource {
            factory: factory(declaration.table, declaration.schema.clone(), options)?,
            skipped: None,
        }))
    }
}

/// The datagen source of table `table`, checked whole: every option is read here, so an
/// unknown or bad one fails the CREATE TABLE.
pub(crate) fn factory(
    table: &str,
    schema: SchemaRef,
    options: &mut ConnectorOptions,
) -> Result<Arc<dyn SourceFactory>, EngineError> {
    Ok(Arc::new(DatagenFactory {
        plan: Arc::new(options::plan(table, schema, options)?),
    }))
}
