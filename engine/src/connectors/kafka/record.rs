//! A Kafka record as a query keeps it between the client and the decoding of its batch: where
//! it is, its key and value, and the metadata a table may read.

/// Where a record is: its topic (by index into the source's topics), partition and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordAt {
    pub(crate) topic: usize,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
}

/// A record as read, until its batch is decoded.
#[derive(Clone)]
pub(crate) struct Record {
    pub(crate) at: RecordAt,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Vec<u8>,
    /// Milliseconds since the epoch, when the record has a time.
    pub(crate) timestamp: Option<i64>,
    /// `CreateTime`, `LogAppendTime` or `NoTimestampType`, as Flink says them.
    pub(crate) timestamp_type: &'static str,
    /// Only read when the table has a `headers` metadata column.
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
}
