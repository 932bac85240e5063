//! Statements run on Apache Flink through its SQL Gateway (`%connect flink://HOST:PORT`).
//!
//! Connected, a session sends every statement to the gateway as the user wrote it: Flink
//! parses, plans and runs it, and keeps the tables declared in the gateway session. A
//! query's result is fetched page by page as JSON rows with their change kinds
//! (`gateway.rs`, over the crate's `rest.rs`), decoded into Arrow (`result_rows.rs`) and fed to a
//! [`ContinuousQuery`](crate::ContinuousQuery) (`result_feed.rs`), so the kernel shows it in
//! the live display it uses for Eddy's own streams; cancelling that query cancels the
//! gateway's operation, and with it the Flink job.

mod connection;
mod gateway;
mod result_feed;
mod result_rows;
mod statements;

pub(crate) use connection::FlinkGateway;
pub use statements::{split_statements, FlinkStatement};
