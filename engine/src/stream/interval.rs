//! Interval literals of windows and watermarks (`INTERVAL '5' SECOND`), as milliseconds.

use crate::error::EngineError;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::Schema;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::ColumnarValue;
use std::sync::Arc;

/// The interval a SQL expression such as `INTERVAL '5' SECOND` stands for, in ms.
pub(crate) fn interval_ms(ctx: &SessionContext, sql: &str) -> Result<i64, EngineError> {
    let schema = DFSchema::empty();
    let expr = ctx.parse_sql_expr(sql, &schema)?;
    let physical = ctx.create_physical_expr(expr, &schema)?;
    let one_row = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let not_an_interval = || {
        plan_error(
            format!("'{sql}' is not a time interval"),
            "write intervals as INTERVAL '5' SECOND or INTERVAL '1' MINUTE",
        )
    };
    let ColumnarValue::Scalar(value) = physical.evaluate(&one_row)? else {
        return Err(not_an_interval());
    };
    if let Some(ms) = interval_ms_of(&value) {
        return Ok(ms);
    }
    match value {
        ScalarValue::IntervalMonthDayNano(Some(_)) | ScalarValue::IntervalYearMonth(Some(_)) => {
            Err(plan_error(
                format!("'{sql}' counts months, whose length varies"),
                "use days, hours, minutes or seconds",
            ))
        }
        _ => Err(not_an_interval()),
    }
}

/// A constant interval without months (whose length varies), in ms.
pub(crate) fn interval_ms_of(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            Some(v.days as i64 * 86_400_000 + v.nanoseconds / 1_000_000)
        }
        ScalarValue::IntervalDayTime(Some(v)) => {
            Some(v.days as i64 * 86_400_000 + v.milliseconds as i64)
        }
        _ => None,
    }
}

fn plan_error(message: String, hint: &str) -> EngineError {
    EngineError::Plan {
        message,
        position: None,
        hint: Some(hint.to_string()),
    }
}
