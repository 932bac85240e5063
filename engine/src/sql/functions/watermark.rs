//! `CURRENT_WATERMARK(rowtime)`: the watermark a continuous query had when the current rows
//! arrived (Flink's, which a filter like `WHERE ts > CURRENT_WATERMARK(ts)` uses to drop late
//! rows), of the argument's type; NULL before the first watermark, and always in a batch
//! query, which has none.
//!
//! A session registers it unbound (NULL); each continuous query registers it again in its
//! own state, bound to the value its runner sets before each tick's plan runs.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The unbound function, for batch queries.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![current_watermark(None)]
}

/// `CURRENT_WATERMARK` reading `watermark` (milliseconds since the epoch, `i64::MIN` before
/// the first one); `None` always gives NULL.
pub(crate) fn current_watermark(watermark: Option<Arc<AtomicI64>>) -> ScalarUDF {
    ScalarUDF::new_from_impl(CurrentWatermark {
        // Volatile: read as each tick runs, never folded while planning.
        signature: Signature::user_defined(Volatility::Volatile),
        watermark: watermark.map(Watermark),
        doc: Documentation::builder(
            DOC_SECTION_DATETIME,
            "The watermark of a continuous query when the current rows arrived (Flink's \
             `CURRENT_WATERMARK`), of the event-time column's type; NULL before the first \
             watermark and in batch queries. `WHERE ts > CURRENT_WATERMARK(ts)` keeps only \
             rows that are not late.",
            "current_watermark(rowtime)",
        )
        .with_argument("rowtime", "The table's event-time column.")
        .build(),
    })
}

/// The value a query's runner sets; compared by identity.
#[derive(Debug, Clone)]
struct Watermark(Arc<AtomicI64>);

impl PartialEq for Watermark {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Watermark {}

impl std::hash::Hash for Watermark {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentWatermark {
    signature: Signature,
    watermark: Option<Watermark>,
    doc: Documentation,
}

impl ScalarUDFImpl for CurrentWatermark {
    fn name(&self) -> &str {
        "current_watermark"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t @ DataType::Timestamp(..)] => Ok(vec![t.clone()]),
            _ => plan_err!(
                "CURRENT_WATERMARK() takes the table's event-time column (a TIMESTAMP), got \
                 ({})",
                arg_types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types
            .first()
            .cloned()
            .unwrap_or(DataType::Timestamp(TimeUnit::Millisecond, None)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let millis = self
            .watermark
            .as_ref()
            .map(|w| w.0.load(Ordering::Relaxed))
            .filter(|&w| w != i64::MIN);
        let data_type = args.return_field.data_type().clone();
        let DataType::Timestamp(unit, zone) = data_type else {
            return plan_err!("CURRENT_WATERMARK() returns a TIMESTAMP");
        };
        let value = match unit {
            TimeUnit::Second => {
                ScalarValue::TimestampSecond(millis.map(|m| m.div_euclid(1000)), zone)
            }
            TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(millis, zone),
            TimeUnit::Microsecond => {
                ScalarValue::TimestampMicrosecond(millis.map(|m| m.saturating_mul(1000)), zone)
            }
            TimeUnit::Nanosecond => {
                ScalarValue::TimestampNanosecond(millis.map(|m| m.saturating_mul(1_000_000)), zone)
            }
        };
        Ok(ColumnarValue::Scalar(value))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, one};

    #[tokio::test]
    async fn a_batch_query_has_no_watermark() {
        assert_eq!(
            one("SELECT CURRENT_WATERMARK(TIMESTAMP '2024-01-01 00:00:00')").await,
            "NULL"
        );
        let message = error("SELECT CURRENT_WATERMARK(1)").await;
        assert!(
            message.contains("takes the table's event-time column"),
            "{message}"
        );
    }
}
