//! Where a cell's outputs go: IOPub, under the request that ran the cell.

use super::iopub::Iopub;
use super::protocol::MimeBundle;
use crate::wire::Message;
use serde_json::{json, Value};

/// The outputs of the cell now running.
pub struct Outputs<'a> {
    iopub: &'a Iopub,
    parent: &'a Message,
    execution_count: u64,
    silent: bool,
}

impl<'a> Outputs<'a> {
    pub fn new(iopub: &'a Iopub, parent: &'a Message, execution_count: u64, silent: bool) -> Self {
        Outputs {
            iopub,
            parent,
            execution_count,
            silent,
        }
    }

    /// An output of the cell that is not its final result.
    pub fn display(&self, data: MimeBundle) {
        self.publish_display("display_data", json!({}), data);
    }

    /// An output that later updates replace in place (`transient.display_id`).
    pub fn display_with_id(&self, display_id: &str, data: MimeBundle) {
        let transient = json!({ "display_id": display_id });
        self.publish_display("display_data", transient, data);
    }

    /// Replaces every output shown under `display_id`.
    pub fn update(&self, display_id: &str, data: MimeBundle) {
        let transient = json!({ "display_id": display_id });
        self.publish_display("update_display_data", transient, data);
    }

    fn publish_display(&self, msg_type: &str, transient: Value, data: MimeBundle) {
        if !self.silent {
            let content = json!({ "data": data, "metadata": {}, "transient": transient });
            self.iopub.publish(self.parent, msg_type, content);
        }
    }

    /// The cell's result, numbered like the cell.
    pub fn result(&self, data: MimeBundle) {
        if !self.silent {
            let content = json!({
                "execution_count": self.execution_count,
                "data": data,
                "metadata": {},
            });
            self.iopub.publish(self.parent, "execute_result", content);
        }
    }

    /// Outputs that outlive the request: a background query's display updates.
    pub fn detach(&self) -> DetachedOutputs {
        DetachedOutputs {
            iopub: self.iopub.clone(),
            parent: self.parent.clone(),
            silent: self.silent,
        }
    }
}

/// A cell's display, kept by a background query after the cell has finished.
pub struct DetachedOutputs {
    iopub: Iopub,
    parent: Message,
    silent: bool,
}

impl DetachedOutputs {
    /// Shows `bundle` under `display_id` (`display_data`), or replaces what is shown there
    /// (`update_display_data`).
    pub fn publish(&self, msg_type: &str, display_id: &str, bundle: MimeBundle) {
        if !self.silent {
            let content = json!({
                "data": bundle,
                "metadata": {},
                "transient": { "display_id": display_id },
            });
            self.iopub.publish(&self.parent, msg_type, content);
        }
    }
}
