//! `%lsmagic`: every magic, how it is written and what it does.

use crate::interpreter::error::CellError;
use crate::interpreter::magic::Magic;
use crate::render;
use crate::server::Outputs;
use serde_json::json;

pub(super) fn run(out: &Outputs<'_>) -> Result<(), CellError> {
    let mut bundle = render::plain(Magic::listing().join("\n"));
    let mut markdown = String::from("| magic | written | what it does |\n|---|---|---|\n");
    for magic in Magic::ALL {
        let syntax = magic.syntax().replace('|', "\\|");
        markdown.push_str(&format!(
            "| `{}` | `{syntax}` | {} |\n",
            magic.name(),
            magic.help()
        ));
    }
    bundle.insert("text/markdown".into(), json!(markdown));
    out.result(bundle);
    Ok(())
}
