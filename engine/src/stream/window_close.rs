//! Which column of a window's rows says when the watermark closes their window:
//! `window_end`, or `window_start` plus the size for windows whose size is fixed (TUMBLE,
//! HOP; a CUMULATE window's start is shared by windows of several ends).

use super::aggregate::{self, AggregatePlan};
use super::window::WindowSpec;
use crate::sql::flink_syntax::WindowKind;

/// The column that closes a window, and what to add to it to get the window's end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowClose {
    pub(crate) column: usize,
    /// Added to the column to get the window's end (the window's size, for `window_start`).
    pub(crate) offset_ms: i64,
}

impl WindowClose {
    /// From where `window_end` and `window_start` are among the rows' columns (if they are).
    pub(crate) fn from_columns(
        end: Option<usize>,
        start: Option<usize>,
        window: &WindowSpec,
    ) -> Option<Self> {
        match (end, start) {
            (Some(column), _) => Some(WindowClose {
                column,
                offset_ms: 0,
            }),
            (None, Some(column)) if matches!(window.kind, WindowKind::Tumble | WindowKind::Hop) => {
                Some(WindowClose {
                    column,
                    offset_ms: window.size_ms,
                })
            }
            _ => None,
        }
    }

    /// The column of an aggregate's state rows that closes their window; `None` when the
    /// aggregate does not group by `window_end` or `window_start`.
    pub(crate) fn of_aggregate(found: &AggregatePlan, window: &WindowSpec) -> Option<Self> {
        let groups = aggregate::group_names(found);
        let state_schema = found.partial.schema();
        let grouped = |name: &str| {
            groups
                .iter()
                .any(|g| g == name)
                .then(|| state_schema.index_of(name).ok())
                .flatten()
        };
        WindowClose::from_columns(grouped("window_end"), grouped("window_start"), window)
    }
}
