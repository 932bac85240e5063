//! Why the kernel could not start serving.

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {endpoint} ({channel} channel): {source}")]
    Bind {
        channel: &'static str,
        endpoint: String,
        source: zeromq::ZmqError,
    },
    #[error("cannot start the {what} thread: {reason}")]
    Thread { what: &'static str, reason: String },
}
