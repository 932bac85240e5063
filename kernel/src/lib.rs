//! Eddy's Jupyter kernel: the wire protocol, the channels, the cell interpreter and rendering.
//! The `eddy` binary (main.rs) is its command line; the fuzz targets (`tests/fuzz`) drive its
//! parsers directly.

pub mod cell;
pub mod complete;
pub mod control;
pub mod error;
pub mod heartbeat;
pub mod history;
pub mod install;
pub mod interpreter;
pub mod iopub;
pub mod jobs;
pub mod kernel;
pub mod kernel_info;
pub mod live;
pub mod params;
pub mod progress;
pub mod protocol;
pub mod render;
pub mod server;
pub mod shell;
pub mod sql_args;
pub mod wire;
