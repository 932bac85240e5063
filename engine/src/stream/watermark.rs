//! Event time: `WATERMARK FOR ts AS ts - INTERVAL '5' SECOND` and the watermark a running
//! query derives from the rows it has seen; processing time (`PROCTIME()`) as a watermark
//! that follows the clock.

/// A table's declared watermark: its time column (the rowtime attribute) and how far
/// behind the largest time seen the watermark trails.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WatermarkSpec {
    pub(crate) column: String,
    /// Milliseconds of out-of-orderness allowed (0 for `WATERMARK FOR ts AS ts`).
    pub(crate) delay_ms: i64,
    /// `'scan.watermark.idle-timeout'`: after this long without rows, the watermark
    /// follows the wall clock from the last row, so the last windows close.
    pub(crate) idle_timeout: Option<std::time::Duration>,
    /// A processing-time attribute (`PROCTIME()`): the watermark is the latest processing
    /// time seen, and the wall clock when no rows come, so windows close on time.
    pub(crate) processing_time: bool,
}

impl WatermarkSpec {
    /// Reads `WATERMARK FOR ts AS ts - INTERVAL '5' SECOND` against the table's columns.
    pub(crate) fn from_decl(
        ctx: &datafusion::execution::context::SessionContext,
        decl: &crate::sql::flink_syntax::WatermarkDecl,
        schema: &datafusion::arrow::datatypes::Schema,
        idle_timeout: Option<std::time::Duration>,
    ) -> Result<Self, crate::error::EngineError> {
        use crate::error::EngineError;
        use datafusion::arrow::datatypes::DataType;
        let plan = |message: String, hint: &str| EngineError::Plan {
            message,
            position: Some(decl.position),
            hint: Some(hint.to_string()),
        };
        let Ok(field) = schema.field_with_name(&decl.column) else {
            return Err(plan(
                format!(
                    "WATERMARK FOR {}: the table has no such column",
                    decl.column
                ),
                "name one of the table's TIMESTAMP columns",
            ));
        };
        if !matches!(field.data_type(), DataType::Timestamp(..)) {
            return Err(plan(
                format!(
                    "WATERMARK FOR {}: the column is {}, not a TIMESTAMP",
                    decl.column,
                    field.data_type()
                ),
                "declare the event-time column as TIMESTAMP(3)",
            ));
        }
        let usage = "write WATERMARK FOR ts AS ts - INTERVAL '5' SECOND (or AS ts)";
        let expression = decl.expression.trim();
        let Some(rest) = decl.after_column.as_deref() else {
            return Err(plan(
                format!("WATERMARK expression '{expression}' is not supported"),
                usage,
            ));
        };
        let rest = rest.trim();
        let delay_ms = if rest.is_empty() {
            0
        } else if let Some(interval) = rest.strip_prefix('-') {
            super::interval::interval_ms(ctx, interval.trim())?
        } else {
            return Err(plan(
                format!("WATERMARK expression '{expression}' is not supported"),
                usage,
            ));
        };
        if delay_ms < 0 {
            return Err(plan("a watermark delay cannot be negative".into(), usage));
        }
        Ok(WatermarkSpec {
            column: decl.column.clone(),
            delay_ms,
            idle_timeout,
            processing_time: false,
        })
    }

    /// Windows over `column`, a `PROCTIME()` attribute.
    pub(crate) fn processing_time(column: &str) -> Self {
        WatermarkSpec {
            column: column.to_string(),
            delay_ms: 0,
            idle_timeout: None,
            processing_time: true,
        }
    }
}
