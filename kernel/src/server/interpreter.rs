//! What the protocol core asks of a language (xeus's `xinterpreter`): run a cell, evaluate
//! user expressions, complete, inspect and judge completeness. The core owns the channels,
//! the execution count, history and the handling of panics; an interpreter owns the meaning of
//! code.

use super::outputs::Outputs;
use super::protocol::ErrorContent;
use serde_json::{Map, Value};
use std::future::Future;
use tokio_util::sync::CancellationToken;

pub trait Interpreter: Send + 'static {
    /// Runs a cell, publishing its outputs as they come. `cancel` fires on interrupt.
    fn execute(
        &mut self,
        code: &str,
        out: &Outputs<'_>,
        cancel: &CancellationToken,
    ) -> impl Future<Output = Result<(), ErrorContent>> + Send;

    /// The `user_expressions` of an `execute_reply`: each evaluated after the cell ran.
    fn user_expressions(
        &self,
        expressions: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> impl Future<Output = Value> + Send;

    /// The `complete_reply` content.
    fn complete(&self, code: &str, cursor: usize) -> impl Future<Output = Value> + Send;

    /// The `inspect_reply` content.
    fn inspect(
        &self,
        code: &str,
        cursor: usize,
        detail_level: u8,
    ) -> impl Future<Output = Value> + Send;

    /// The `is_complete_reply` content.
    fn is_complete(&self, code: &str) -> Value;
}
