//! A panic caught before it could end the kernel: what it said, and how it is reported.

/// What a panic said: its message when it has one (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// The `InternalError` text for a caught panic: what was interrupted, that the session
/// lives on, and a request for a report.
pub fn bug_report(during: &str, message: &str) -> String {
    format!(
        "Eddy hit a bug while {during}: {message}. The session, its tables and its running \
         queries are intact; please report this, with the cell that caused it"
    )
}
