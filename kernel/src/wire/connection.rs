//! The connection file Jupyter writes for a kernel: where to listen and how to sign.

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionInfo {
    pub ip: String,
    pub transport: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    #[serde(default)]
    pub key: String,
    #[serde(default = "default_signature_scheme")]
    pub signature_scheme: String,
}

fn default_signature_scheme() -> String {
    "hmac-sha256".to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("cannot read connection file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("connection file {path} is not valid: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("signature scheme {0:?} is not supported; Eddy signs with hmac-sha256")]
    Scheme(String),
    #[error("transport {0:?} is not supported; use tcp or ipc")]
    Transport(String),
}

impl ConnectionInfo {
    pub fn from_file(path: &Path) -> Result<Self, ConnectionError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConnectionError::Read {
            path: shown.clone(),
            source,
        })?;
        let info: ConnectionInfo =
            serde_json::from_str(&text).map_err(|source| ConnectionError::Parse {
                path: shown,
                source,
            })?;
        if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
            return Err(ConnectionError::Scheme(info.signature_scheme));
        }
        if info.transport != "tcp" && info.transport != "ipc" {
            return Err(ConnectionError::Transport(info.transport));
        }
        Ok(info)
    }

    /// The ZeroMQ endpoint for one of the ports, as Jupyter spells it: `tcp://ip:port`, or
    /// for ipc a file named `ip-port`.
    pub fn endpoint(&self, port: u16) -> String {
        if self.transport == "ipc" {
            format!("ipc://{}-{}", self.ip, port)
        } else {
            format!("tcp://{}:{}", self.ip, port)
        }
    }
}
