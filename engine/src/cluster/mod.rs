//! Batch queries on an Apache DataFusion Ballista cluster (`%connect df://HOST:PORT`).
//!
//! The catalog stays in this session: tables are declared here, and a query is planned here
//! as any other. Its file scans are then handed to the cluster as DataFusion listing tables
//! (what Ballista's plan codec carries: paths, format, schema) and the plan goes to the
//! scheduler, whose executors read the files. What has its rows in this process (cached
//! tables, tables made from cell text, streams) or is read by a scan only Eddy has (lenient
//! CSV) is refused, naming the table and why: a query is never run here in the cluster's
//! place.
//!
//! The scheduler and executors must know Eddy's functions to decode its plans: they are the
//! same binary (`eddy cluster scheduler|executor`, the `eddy-cluster` crate), whose sessions
//! are made by [`with_eddy_functions`].

mod connection;
mod functions;
mod job;
mod job_progress;
mod tables;

pub(crate) use connection::Cluster;
pub use functions::with_eddy_functions;
