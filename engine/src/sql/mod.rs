//! Eddy's Flink dialect on DataFusion: the syntax DataFusion's parser lacks, Flink's type
//! names and functions, how names are read (case kept, a selected ROW field named after
//! the field), the optimizer rule for time grouping, the limits on a statement's shape, and
//! what the session can say about SQL (completeness, names for completion).

pub(crate) mod cast_types;
pub(crate) mod completeness;
pub(crate) mod field_names;
pub(crate) mod flink_syntax;
pub(crate) mod functions;
pub(crate) mod group_windows;
pub(crate) mod introspect;
pub mod limits;
pub(crate) mod names;
pub(crate) mod similar_to;
pub(crate) mod time_grouping;
pub(crate) mod time_units;
pub(crate) mod types;
