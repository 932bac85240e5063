//! Nexmark events as an Arrow batch of the table's columns: `event_type` (0 person, 1
//! auction, 2 bid, as Flink's nexmark source numbers them) and a ROW per kind, NULL on the
//! rows of the other kinds.

use super::schema::Column;
use crate::error::EngineError;
use datafusion::arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder, StructArray,
    TimestampMillisecondBuilder,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use nexmark::event::Event;
use std::sync::Arc;

/// The batch of `events` for a table of `columns` (its schema `schema`).
pub(super) fn batch(
    events: &[Event],
    columns: &[Column],
    schema: &SchemaRef,
) -> Result<RecordBatch, EngineError> {
    let arrays = columns
        .iter()
        .map(|column| match column {
            Column::EventType => event_types(events),
            Column::Person => persons(events, column),
            Column::Auction => auctions(events, column),
            Column::Bid => bids(events, column),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

fn event_types(events: &[Event]) -> Result<ArrayRef, EngineError> {
    let mut kinds = Int32Builder::with_capacity(events.len());
    for event in events {
        kinds.append_value(match event {
            Event::Person(_) => 0,
            Event::Auction(_) => 1,
            Event::Bid(_) => 2,
        });
    }
    Ok(Arc::new(kinds.finish()))
}

/// A ROW column's fields, built side by side; rows of other kinds are NULL in each.
struct Fields {
    longs: Vec<Int64Builder>,
    texts: Vec<StringBuilder>,
    times: Vec<TimestampMillisecondBuilder>,
    valid: Vec<bool>,
}

impl Fields {
    fn new(rows: usize, longs: usize, texts: usize, times: usize) -> Self {
        Fields {
            longs: (0..longs)
                .map(|_| Int64Builder::with_capacity(rows))
                .collect(),
            texts: (0..texts)
                .map(|_| StringBuilder::with_capacity(rows, rows * 16))
                .collect(),
            times: (0..times)
                .map(|_| TimestampMillisecondBuilder::with_capacity(rows))
                .collect(),
            valid: Vec::with_capacity(rows),
        }
    }

    fn null_row(&mut self) {
        self.longs.iter_mut().for_each(Int64Builder::append_null);
        self.texts.iter_mut().for_each(StringBuilder::append_null);
        self.times
            .iter_mut()
            .for_each(TimestampMillisecondBuilder::append_null);
        self.valid.push(false);
    }

    /// The ROW array, its fields taken in the order `order` names them: `L`ong, `T`ext or
    /// ti`M`e, each kind in the order appended.
    fn finish(mut self, data_type: &DataType, order: &str) -> Result<ArrayRef, EngineError> {
        let DataType::Struct(fields) = data_type else {
            return Err(EngineError::Internal {
                message: "a nexmark ROW column is not a ROW".into(),
                source: None,
            });
        };
        let (mut l, mut t, mut m) = (0, 0, 0);
        let mut children: Vec<ArrayRef> = Vec::with_capacity(order.len());
        for kind in order.chars() {
            let child: ArrayRef = match kind {
                'L' => {
                    l += 1;
                    Arc::new(self.longs[l - 1].finish())
                }
                'T' => {
                    t += 1;
                    Arc::new(self.texts[t - 1].finish())
                }
                _ => {
                    m += 1;
                    Arc::new(self.times[m - 1].finish())
                }
            };
            children.push(child);
        }
        let nulls = NullBuffer::from(std::mem::take(&mut self.valid));
        Ok(Arc::new(StructArray::try_new(
            fields.clone(),
            children,
            Some(nulls),
        )?))
    }
}

fn long(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn millis(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn persons(events: &[Event], column: &Column) -> Result<ArrayRef, EngineError> {
    // id, name, emailAddress, creditCard, city, state, dateTime, extra
    let mut f = Fields::new(events.len(), 1, 6, 1);
    for event in events {
        let Event::Person(p) = event else {
            f.null_row();
            continue;
        };
        f.longs[0].append_value(long(p.id));
        for (i, text) in [
            &p.name,
            &p.email_address,
            &p.credit_card,
            &p.city,
            &p.state,
            &p.extra,
        ]
        .into_iter()
        .enumerate()
        {
            f.texts[i].append_value(text);
        }
        f.times[0].append_value(millis(p.date_time));
        f.valid.push(true);
    }
    f.finish(&column.data_type(), "LTTTTTMT")
}

fn auctions(events: &[Event], column: &Column) -> Result<ArrayRef, EngineError> {
    // id, itemName, description, initialBid, reserve, dateTime, expires, seller, category,
    // extra
    let mut f = Fields::new(events.len(), 5, 3, 2);
    for event in events {
        let Event::Auction(a) = event else {
            f.null_row();
            continue;
        };
        for (i, value) in [a.id, a.initial_bid, a.reserve, a.seller, a.category]
            .into_iter()
            .enumerate()
        {
            f.longs[i].append_value(long(value));
        }
        for (i, text) in [&a.item_name, &a.description, &a.extra]
            .into_iter()
            .enumerate()
        {
            f.texts[i].append_value(text);
        }
        f.times[0].append_value(millis(a.date_time));
        f.times[1].append_value(millis(a.expires));
        f.valid.push(true);
    }
    f.finish(&column.data_type(), "LTTLLMMLLT")
}

fn bids(events: &[Event], column: &Column) -> Result<ArrayRef, EngineError> {
    // auction, bidder, price, channel, url, dateTime, extra
    let mut f = Fields::new(events.len(), 3, 3, 1);
    for event in events {
        let Event::Bid(b) = event else {
            f.null_row();
            continue;
        };
        for (i, value) in [b.auction, b.bidder, b.price].into_iter().enumerate() {
            f.longs[i].append_value(long(value));
        }
        for (i, text) in [&b.channel, &b.url, &b.extra].into_iter().enumerate() {
            f.texts[i].append_value(text);
        }
        f.times[0].append_value(millis(b.date_time));
        f.valid.push(true);
    }
    f.finish(&column.data_type(), "LLLTTMT")
}
