//! Flink SQL built-in functions that DataFusion lacks, or has under the same name with other
//! semantics, implemented as DataFusion scalar UDFs with Flink's behaviour.
//!
//! One file per family:
//! - [`temporal`] has `YEAR`, `QUARTER`, `MONTH`, `WEEK`, `DAYOFYEAR`, `DAYOFMONTH`, `DAYOFWEEK`,
//!   `HOUR`, `MINUTE`, `SECOND`.
//! - [`format`] has `DATE_FORMAT`, `TO_TIMESTAMP`, `TO_DATE`, `FROM_UNIXTIME`, `UNIX_TIMESTAMP`,
//!   which take Java `SimpleDateFormat` patterns (translated by [`pattern`]).
//! - [`conditional`] has `IF`.
//! - [`strings`] has `SPLIT_INDEX`.
//! - [`numeric`] has `MOD`.
//! - [`regex`] has `REGEXP_EXTRACT`.
//! - [`timestamp_units`] has `TIMESTAMPDIFF` and `TIMESTAMPADD`.
//! - [`watermark`] has `CURRENT_WATERMARK`, which each continuous query binds to its own
//!   watermark.
//! - [`proctime`] has `PROCTIME()`, the processing time.
//! - [`fault`] has `eddy_fault_panic`, which panics on purpose: registered only when
//!   `EngineConfig::fault_functions` asks (the kernel's tests), never in a user's session.
//!
//! Registering replaces DataFusion's functions of the same name in that session
//! (`to_timestamp`, `to_date`, `date_format`, `from_unixtime`): see each function's docs for
//! what changes.

mod calendar;
mod conditional;
pub(crate) mod fault;
mod format;
mod numeric;
mod pattern;
mod proctime;
mod regex;
mod str_to_map;
mod strings;
mod temporal;
mod time_zones;
mod timestamp_units;
mod unaliased;
pub(crate) mod watermark;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use std::sync::Arc;

/// A row-by-row function's arguments as arrays: of the batch's rows, or of one row when every
/// argument is a constant (then the result is one too, see [`result_value`]).
pub(super) fn argument_arrays(
    args: &ScalarFunctionArgs,
) -> Result<(Vec<datafusion::arrow::array::ArrayRef>, bool)> {
    let constant = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if constant { 1 } else { args.number_rows };
    let arrays = args
        .args
        .iter()
        .map(|a| a.to_array(rows))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, constant))
}

/// Whether a function argument of this type is taken as a string.
pub(super) fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

/// Argument types as an error lists them: `Int64, Utf8`.
pub(super) fn type_list(arg_types: &[DataType]) -> String {
    arg_types
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The result computed over [`argument_arrays`]: a constant when the arguments were.
pub(super) fn result_value(
    result: datafusion::arrow::array::ArrayRef,
    constant: bool,
) -> Result<ColumnarValue> {
    Ok(if constant {
        ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&result, 0)?)
    } else {
        ColumnarValue::Array(result)
    })
}

/// Every Flink function of this module, ready to register.
pub(crate) fn flink_functions(options: &ConfigOptions) -> Vec<ScalarUDF> {
    let mut udfs = temporal::functions();
    udfs.extend(format::functions(options));
    udfs.extend(conditional::functions());
    udfs.extend(strings::functions());
    udfs.extend(numeric::functions());
    udfs.extend(regex::functions());
    udfs.extend(watermark::functions());
    udfs.extend(timestamp_units::functions());
    udfs.extend(proctime::functions());
    udfs.extend(str_to_map::functions());
    udfs.extend(time_zones::functions());
    udfs
}

/// The names of Flink's functions the engine adds or replaces (lower case, as registered).
pub fn flink_function_names() -> Vec<String> {
    flink_functions(&ConfigOptions::default())
        .iter()
        .map(|udf| udf.name().to_string())
        .collect()
}

/// Registers Flink's built-in functions in `ctx`, replacing DataFusion's functions of the same
/// name (see the module docs). Every session context the engine makes has them.
pub(crate) fn register_flink_functions(ctx: &SessionContext) {
    for udf in flink_functions(ctx.copied_config().options()) {
        ctx.register_udf(udf);
    }
}

/// Registers Flink's functions again in a state rebuilt from the session's
/// (`SessionStateBuilder::new_from_existing`, as continuous queries plan in). Rebuilding
/// registers every function anew under its name and each alias, in no fixed order, so
/// DataFusion's `to_char` could take back `date_format`, its alias, and a stream would format
/// with strftime letters what a batch query formats with Java's.
pub(crate) fn restore_flink_functions(state: &mut SessionState) -> Result<()> {
    for udf in flink_functions(state.config_options()) {
        state.register_udf(Arc::new(udf))?;
    }
    Ok(())
}

/// `state` with Flink's functions as the only ones named by their names, however often it is
/// rebuilt: each DataFusion function with an alias a Flink function is named by
/// (`to_char`'s `date_format`) is registered again without it (`unaliased.rs`).
pub(crate) fn give_flink_names_to_flink_functions(state: &mut SessionState) -> Result<()> {
    let flink: Vec<String> = flink_functions(state.config_options())
        .iter()
        .map(|udf| udf.name().to_string())
        .collect();
    let clashing: Vec<Arc<ScalarUDF>> = state
        .scalar_functions()
        .values()
        .filter(|udf| !flink.iter().any(|name| name == udf.name()))
        .filter(|udf| udf.aliases().iter().any(|alias| flink.contains(alias)))
        .cloned()
        .collect();
    for udf in clashing {
        state.register_udf(Arc::new(unaliased::without_aliases(udf, &flink)))?;
    }
    restore_flink_functions(state)
}

#[cfg(test)]
pub(crate) mod test_util {
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::error::Result;
    use datafusion::execution::context::SessionContext;

    pub(crate) fn context() -> SessionContext {
        let ctx = SessionContext::new();
        super::register_flink_functions(&ctx);
        ctx
    }

    /// Runs `sql` and prints its whole result as a table (an EXPLAIN's plan, say).
    pub(crate) async fn printed(ctx: &SessionContext, sql: &str) -> String {
        let frame = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let batches = frame
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .to_string()
    }

    /// Runs `sql` and renders its first column, one string per row, `NULL` for nulls.
    pub(crate) async fn column(ctx: &SessionContext, sql: &str) -> Result<Vec<String>> {
        let batches = ctx.sql(sql).await?.collect().await?;
        let mut out = Vec::new();
        for batch in batches {
            let array = batch.column(0);
            for i in 0..array.len() {
                out.push(if array.is_null(i) {
                    "NULL".to_string()
                } else {
                    array_value_to_string(array, i)?
                });
            }
        }
        Ok(out)
    }

    /// Runs `sql` (one row, one column) in a fresh context and renders the value.
    pub(crate) async fn one(sql: &str) -> String {
        let ctx = context();
        let mut values = column(&ctx, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(values.len(), 1, "{sql}");
        values.remove(0)
    }

    /// The data type of the single column of `sql`.
    pub(crate) async fn data_type(sql: &str) -> datafusion::arrow::datatypes::DataType {
        let ctx = context();
        let df = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        df.schema().field(0).data_type().clone()
    }

    /// The error message of `sql`, which must fail (at planning or execution).
    pub(crate) async fn error(sql: &str) -> String {
        let ctx = context();
        match column(&ctx, sql).await {
            Ok(v) => panic!("{sql}: expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }
}
