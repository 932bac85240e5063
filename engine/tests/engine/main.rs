//! The engine through its public API only, as the kernel, a benchmark or another front end
//! drives it. One test binary (each binary links DataFusion again).

mod cached_tables;
mod differential;
mod flink_functions;
mod kept_columns;
mod printed;
mod sql_scripts;
mod streams;
mod updating_results;
