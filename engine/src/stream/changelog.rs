//! An updating result's changes between two snapshots, as Flink's changelog rows:
//! `+I` insert, `-U` / `+U` the old and new row of an updated key, `-D` delete.

use crate::error::EngineError;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
// Hashed with DataFusion's hasher: a tick may change a million rows.
use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

/// The schema of changelog rows: `op`, then the result's columns.
pub fn changelog_schema(schema: &Schema) -> SchemaRef {
    let mut fields = vec![Arc::new(Field::new("op", DataType::Utf8, false))];
    fields.extend(schema.fields().iter().cloned());
    Arc::new(Schema::new(fields))
}

fn rows_of(batch: &RecordBatch, columns: &[usize]) -> Result<Rows, EngineError> {
    let fields = columns
        .iter()
        .map(|&i| SortField::new(batch.column(i).data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let arrays: Vec<ArrayRef> = columns.iter().map(|&i| batch.column(i).clone()).collect();
    Ok(converter.convert_columns(&arrays)?)
}

/// The keys at `indices`, or none.
fn keys_at<'a>(keys: Option<&'a Rows>, indices: &[u32]) -> Vec<&'a [u8]> {
    match keys {
        Some(keys) => indices
            .iter()
            .map(|&i| keys.row(i as usize).data())
            .collect(),
        None => Vec::new(),
    }
}

/// The rows of `old` that are not in `new` and the rows of `new` that are not in `old`, as
/// multisets (a row twice in `old` and once in `new` went once).
fn delta(
    schema: &SchemaRef,
    old: &RecordBatch,
    new: &RecordBatch,
) -> Result<(Vec<u32>, Vec<u32>), EngineError> {
    let all: Vec<usize> = (0..schema.fields().len()).collect();
    let (old_rows, new_rows) = (rows_of(old, &all)?, rows_of(new, &all)?);
    let mut counts: HashMap<&[u8], i64> = HashMap::new();
    for row in old_rows.iter() {
        *counts.entry(row.data()).or_default() += 1;
    }
    for row in new_rows.iter() {
        *counts.entry(row.data()).or_default() -= 1;
    }
    // Rows of `old` with a positive balance went away; of `new` with a negative one came.
    let mut removed = Vec::new();
    for (i, row) in old_rows.iter().enumerate() {
        if let Some(n) = counts.get_mut(row.data()) {
            if *n > 0 {
                *n -= 1;
                removed.push(i as u32);
            }
        }
    }
    let mut added = Vec::new();
    for (i, row) in new_rows.iter().enumerate() {
        if let Some(n) = counts.get_mut(row.data()) {
            if *n < 0 {
                *n += 1;
                added.push(i as u32);
            }
        }
    }
    Ok((removed, added))
}

/// The changes that turn `old` into `new` as weighted rows, in `out`'s schema (the result's
/// columns, then a BIGINT weight): -1 for a row that went, +1 for one that came. Rows in
/// both give nothing. `None` when nothing changed.
pub(crate) fn weighted(
    schema: &SchemaRef,
    old: &[RecordBatch],
    new: &[RecordBatch],
    out: &SchemaRef,
) -> Result<Option<RecordBatch>, EngineError> {
    let old = concat_batches(schema, old)?;
    let new = concat_batches(schema, new)?;
    let (removed, added) = delta(schema, &old, &new)?;
    if removed.is_empty() && added.is_empty() {
        return Ok(None);
    }
    let weights = std::iter::repeat_n(-1i64, removed.len())
        .chain(std::iter::repeat_n(1i64, added.len()))
        .collect::<Int64Array>();
    let (removed, added) = (UInt32Array::from(removed), UInt32Array::from(added));
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len() + 1);
    for c in 0..schema.fields().len() {
        let gone = take(old.column(c), &removed, None)?;
        let came = take(new.column(c), &added, None)?;
        columns.push(datafusion::arrow::compute::concat(&[&gone, &came])?);
    }
    columns.push(Arc::new(weights));
    Ok(Some(RecordBatch::try_new(out.clone(), columns)?))
}

/// What went and what came, with the rows in both taken out of each (a row that came and
/// went between two emits is not shown at all), and the changes as `-D` and `+I` rows.
pub(crate) fn net(
    schema: &SchemaRef,
    went: &[RecordBatch],
    came: &[RecordBatch],
) -> Result<(RecordBatch, RecordBatch, RecordBatch), EngineError> {
    let went = concat_batches(schema, went)?;
    let came = concat_batches(schema, came)?;
    let (removed, added) = delta(schema, &went, &came)?;
    let gone = take_record_batch(&went, &UInt32Array::from(removed))?;
    let new = take_record_batch(&came, &UInt32Array::from(added))?;
    let ops = std::iter::repeat_n("-D", gone.num_rows())
        .chain(std::iter::repeat_n("+I", new.num_rows()))
        .collect::<Vec<_>>();
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(ops))];
    for c in 0..schema.fields().len() {
        columns.push(datafusion::arrow::compute::concat(&[
            gone.column(c).as_ref(),
            new.column(c).as_ref(),
        ])?);
    }
    let changes = RecordBatch::try_new(changelog_schema(schema), columns)?;
    Ok((gone, new, changes))
}

/// The changes that turn `old` into `new`. Rows are paired by `key` columns (the result's
/// grouping columns): a key whose row changed gives `-U` and `+U`, a key that went away
/// `-D`, a new key `+I`.
pub(crate) fn diff(
    schema: &SchemaRef,
    old: &[RecordBatch],
    new: &[RecordBatch],
    key: &[usize],
) -> Result<RecordBatch, EngineError> {
    let old = concat_batches(schema, old)?;
    let new = concat_batches(schema, new)?;
    let (removed, added) = delta(schema, &old, &new)?;
    let (old_keys, new_keys) = if key.is_empty() {
        (None, None)
    } else {
        (Some(rows_of(&old, key)?), Some(rows_of(&new, key)?))
    };
    // The keys of the removed and of the added rows, borrowed from their row form (none
    // when the result has no key: every change is then a delete or an insert).
    let removed_keys: Vec<&[u8]> = keys_at(old_keys.as_ref(), &removed);
    let added_keys: Vec<&[u8]> = keys_at(new_keys.as_ref(), &added);
    // A key both removed and added is an update. (Looked up by hash: a tick of a million
    // changed keys must not compare each with each.)
    let removed_set: HashSet<&[u8]> = removed_keys.iter().copied().collect();
    let added_set: HashSet<&[u8]> = added_keys.iter().copied().collect();
    let mut ops: Vec<&str> = Vec::with_capacity(removed.len() + added.len());
    for i in 0..removed.len() {
        let is_update = removed_keys.get(i).is_some_and(|k| added_set.contains(k));
        ops.push(if is_update { "-U" } else { "-D" });
    }
    for i in 0..added.len() {
        let is_update = added_keys.get(i).is_some_and(|k| removed_set.contains(k));
        ops.push(if is_update { "+U" } else { "+I" });
    }
    let out_schema = changelog_schema(schema);
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(ops))];
    let (removed, added) = (UInt32Array::from(removed), UInt32Array::from(added));
    for c in 0..schema.fields().len() {
        let gone = take(old.column(c), &removed, None)?;
        let came = take(new.column(c), &added, None)?;
        columns.push(datafusion::arrow::compute::concat(&[&gone, &came])?);
    }
    Ok(RecordBatch::try_new(out_schema, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::Int64Type;

    fn table(rows: &[(&str, i64)]) -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap();
        (schema, batch)
    }

    #[test]
    fn updates_inserts_and_deletes_are_told_apart_by_key() {
        let (schema, old) = table(&[("a", 1), ("b", 2), ("c", 3)]);
        let (_, new) = table(&[("a", 1), ("b", 5), ("d", 1)]);
        let changes = diff(&schema, &[old], &[new], &[0]).unwrap();
        let ops: Vec<&str> = changes
            .column(0)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        let keys: Vec<&str> = changes
            .column(1)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        let values: Vec<i64> = changes
            .column(2)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        assert_eq!(ops, vec!["-U", "-D", "+U", "+I"]);
        assert_eq!(keys, vec!["b", "c", "b", "d"]);
        assert_eq!(values, vec![2, 3, 5, 1]);
    }
}
