//! What the kernel says about itself in `kernel_info_reply`, on shell and control alike.

use super::protocol::PROTOCOL_VERSION;
use serde_json::{json, Value};

pub fn kernel_info() -> Value {
    json!({
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "eddy",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "sql",
            "version": eddy_engine::SQL_DIALECT_VERSION,
            "mimetype": "text/x-sql",
            "file_extension": ".sql",
            "codemirror_mode": "sql",
            "pygments_lexer": "sql",
        },
        "banner": format!(
            "Eddy {} — interactive SQL over tables and streams (Apache DataFusion {}).\n\
             Cells are SQL by default; %lsmagic lists the magics.",
            env!("CARGO_PKG_VERSION"),
            eddy_engine::SQL_DIALECT_VERSION,
        ),
        "help_links": [
            { "text": "DataFusion SQL reference", "url": "https://datafusion.apache.org/user-guide/sql/index.html" },
        ],
        "debugger": false,
        "supported_features": [],
    })
}
