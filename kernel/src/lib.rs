//! Eddy's Jupyter kernel: the protocol core (`server/`: channels, messages, history), the SQL
//! interpreter (`interpreter/`: cells, one file per magic, live displays), rendering
//! (`render/`) and the wire format (`wire/`). The `eddy` binary (main.rs) is its command
//! line; the fuzz targets (`tests/fuzz`) drive its parsers directly.

pub mod install;
pub mod interpreter;
pub mod render;
pub mod server;
pub mod wire;
