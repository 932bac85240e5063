//! The columns a `nexmark` table declares, as Nexmark's `ddl_gen.sql` declares them: the
//! event's kind and one ROW per kind (the other two are NULL). A table may declare any of
//! them, in any order; each ROW must have Nexmark's fields, in order, with their types.

use crate::error::EngineError;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};

/// The four columns of a Nexmark event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    EventType,
    Person,
    Auction,
    Bid,
}

const DDL: &str = "event_type INT, person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, \
    creditCard VARCHAR, city VARCHAR, state VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>, \
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve \
    BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra \
    VARCHAR>, bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, \
    dateTime TIMESTAMP(3), extra VARCHAR>";

fn time() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

fn row(fields: &[(&str, DataType)]) -> DataType {
    DataType::Struct(Fields::from(
        fields
            .iter()
            .map(|(name, t)| Field::new(*name, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

impl Column {
    pub(super) fn data_type(self) -> DataType {
        use DataType::{Int32, Int64, Utf8};
        match self {
            Column::EventType => Int32,
            Column::Person => row(&[
                ("id", Int64),
                ("name", Utf8),
                ("emailAddress", Utf8),
                ("creditCard", Utf8),
                ("city", Utf8),
                ("state", Utf8),
                ("dateTime", time()),
                ("extra", Utf8),
            ]),
            Column::Auction => row(&[
                ("id", Int64),
                ("itemName", Utf8),
                ("description", Utf8),
                ("initialBid", Int64),
                ("reserve", Int64),
                ("dateTime", time()),
                ("expires", time()),
                ("seller", Int64),
                ("category", Int64),
                ("extra", Utf8),
            ]),
            Column::Bid => row(&[
                ("auction", Int64),
                ("bidder", Int64),
                ("price", Int64),
                ("channel", Utf8),
                ("url", Utf8),
                ("dateTime", time()),
                ("extra", Utf8),
            ]),
        }
    }

    fn named(name: &str) -> Option<Self> {
        match name {
            "event_type" => Some(Column::EventType),
            "person" => Some(Column::Person),
            "auction" => Some(Column::Auction),
            "bid" => Some(Column::Bid),
            _ => None,
        }
    }
}

/// The Nexmark column each declared column is, in the declared order.
pub(super) fn columns(table: &str, schema: &Schema) -> Result<Vec<Column>, EngineError> {
    let wrong = |what: String| EngineError::Plan {
        message: format!("table {table}: {what}"),
        position: None,
        hint: Some(format!("a nexmark table declares some of: {DDL}")),
    };
    schema
        .fields()
        .iter()
        .map(|field| {
            let column = Column::named(field.name()).ok_or_else(|| {
                wrong(format!(
                    "the nexmark connector makes no column {}",
                    field.name()
                ))
            })?;
            if !same_type(field.data_type(), &column.data_type()) {
                return Err(wrong(format!(
                    "column {} is not of Nexmark's type",
                    field.name()
                )));
            }
            Ok(column)
        })
        .collect()
}

/// Whether a declared type is Nexmark's: the same fields, by name and type, in Nexmark's
/// order (nullability aside).
fn same_type(declared: &DataType, wanted: &DataType) -> bool {
    match (declared, wanted) {
        (DataType::Struct(declared), DataType::Struct(wanted)) => {
            declared.len() == wanted.len()
                && declared
                    .iter()
                    .zip(wanted.iter())
                    .all(|(d, w)| d.name() == w.name() && same_type(d.data_type(), w.data_type()))
        }
        (DataType::Utf8, DataType::Utf8) => true,
        (a, b) => a == b,
    }
}
