//! Cell history, kept across kernel restarts in `<jupyter data dir>/eddy/history.jsonl`
//! and bounded in entries and bytes.

use super::protocol::HistoryRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use wildmatch::WildMatch;

const MAX_ENTRIES: usize = 10_000;
const MAX_BYTES: usize = 8 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    session: u64,
    line: u64,
    input: String,
}

pub struct History {
    file: Option<PathBuf>,
    entries: Vec<Entry>,
    /// This kernel's session number: one more than any in the file.
    session: u64,
}

/// Jupyter's data directory, as jupyter_core finds it on Linux.
pub fn jupyter_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("JUPYTER_DATA_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("jupyter"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share/jupyter"))
}

impl History {
    /// Opens the history under `dir`; with no usable directory, history lives in memory.
    pub fn open(dir: Option<PathBuf>) -> Self {
        let file = dir.map(|d| d.join("eddy").join("history.jsonl"));
        let mut entries = file.as_deref().map(load).unwrap_or_default();
        let session = entries.iter().map(|e| e.session).max().unwrap_or(0) + 1;
        if let Some(path) = &file {
            if trim(&mut entries) {
                if let Err(error) = rewrite(path, &entries) {
                    log::warn!("cannot trim history {}: {error}", path.display());
                }
            }
        }
        History {
            file,
            entries,
            session,
        }
    }

    pub fn record(&mut self, line: u64, input: &str) {
        let entry = Entry {
            session: self.session,
            line,
            input: input.to_string(),
        };
        if let Some(path) = &self.file {
            if let Err(error) = append(path, &entry) {
                log::warn!("cannot write history {}: {error}", path.display());
            }
        }
        self.entries.push(entry);
    }

    /// The `history_reply` content.
    pub fn reply(&self, request: &HistoryRequest) -> Value {
        let found: Vec<&Entry> = match request.hist_access_type.as_str() {
            "tail" => self.tail(request.n.unwrap_or(10)),
            "range" => self.range(request.session, request.start, request.stop),
            "search" => self.search(
                request.pattern.as_deref().unwrap_or("*"),
                request.n,
                request.unique,
            ),
            _ => Vec::new(),
        };
        let history: Vec<Value> = found
            .into_iter()
            .map(|e| {
                if request.output {
                    // Outputs are not kept: only what was typed.
                    json!([e.session, e.line, [e.input, null]])
                } else {
                    json!([e.session, e.line, e.input])
                }
            })
            .collect();
        json!({ "status": "ok", "history": history })
    }

    fn tail(&self, n: usize) -> Vec<&Entry> {
        let skip = self.entries.len().saturating_sub(n);
        self.entries.iter().skip(skip).collect()
    }

    /// `session` 0 is this one, negative counts back from it; lines `start <= line < stop`.
    fn range(&self, session: i64, start: i64, stop: Option<i64>) -> Vec<&Entry> {
        let session = if session <= 0 {
            self.session as i64 + session
        } else {
            session
        };
        self.entries
            .iter()
            .filter(|e| e.session as i64 == session)
            .filter(|e| e.line as i64 >= start && stop.is_none_or(|stop| (e.line as i64) < stop))
            .collect()
    }

    fn search(&self, pattern: &str, n: Option<usize>, unique: bool) -> Vec<&Entry> {
        let glob = WildMatch::new(pattern);
        let mut found: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| glob.matches(&e.input))
            .collect();
        if unique {
            let mut seen = std::collections::HashSet::new();
            // Keep the latest of repeated inputs.
            found.reverse();
            found.retain(|e| seen.insert(e.input.as_str()));
            found.reverse();
        }
        if let Some(n) = n {
            let skip = found.len().saturating_sub(n);
            found.drain(..skip);
        }
        found
    }
}

fn load(path: &Path) -> Vec<Entry> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    // A line that does not parse (a torn write, an edit by hand) is skipped, not fatal.
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Drops the oldest entries past the bounds; true if any went.
fn trim(entries: &mut Vec<Entry>) -> bool {
    let mut bytes = 0;
    let mut keep = 0;
    for entry in entries.iter().rev() {
        bytes += entry.input.len() + 32;
        if keep == MAX_ENTRIES || bytes > MAX_BYTES {
            break;
        }
        keep += 1;
    }
    let drop = entries.len() - keep;
    entries.drain(..drop);
    drop > 0
}

fn append(path: &Path, entry: &Entry) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_string(entry)?;
    line.push('\n');
    // One write of one line, in append mode, so concurrent kernels do not interleave.
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(line.as_bytes())
}

fn rewrite(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let temporary = path.with_extension("jsonl.tmp");
    let mut text = String::new();
    for entry in entries {
        text.push_str(&serde_json::to_string(entry)?);
        text.push('\n');
    }
    fs::write(&temporary, text)?;
    fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: &str) -> HistoryRequest {
        HistoryRequest {
            output: false,
            hist_access_type: kind.to_string(),
            session: 0,
            start: 1,
            stop: None,
            n: Some(10),
            pattern: None,
            unique: false,
        }
    }

    #[test]
    fn history_survives_a_restart_in_a_new_session() {
        let dir = std::env::temp_dir().join(format!("eddy-history-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut first = History::open(Some(dir.clone()));
        first.record(1, "SELECT 1");
        first.record(2, "SELECT 2");
        let second = History::open(Some(dir.clone()));
        assert_eq!(second.session, first.session + 1);
        let reply = second.reply(&request("tail"));
        assert_eq!(reply["history"][1], json!([first.session, 2, "SELECT 2"]));
        let mut previous = request("range");
        previous.session = -1;
        assert_eq!(
            second.reply(&previous)["history"].as_array().unwrap().len(),
            2
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn search_matches_globs_and_can_drop_repeats() {
        let mut history = History::open(None);
        for (line, input) in ["SELECT 1", "SHOW TABLES", "SELECT 1", "SELECT 2"]
            .iter()
            .enumerate()
        {
            history.record(line as u64 + 1, input);
        }
        let mut search = request("search");
        search.pattern = Some("SELECT*".into());
        assert_eq!(
            history.reply(&search)["history"].as_array().unwrap().len(),
            3
        );
        search.unique = true;
        let reply = history.reply(&search);
        assert_eq!(
            reply["history"],
            json!([[1, 3, "SELECT 1"], [1, 4, "SELECT 2"]])
        );
    }

    #[test]
    fn old_entries_are_trimmed_past_the_bound() {
        let mut entries: Vec<Entry> = (0..MAX_ENTRIES + 5)
            .map(|i| Entry {
                session: 1,
                line: i as u64,
                input: "x".into(),
            })
            .collect();
        assert!(trim(&mut entries));
        assert_eq!(entries.len(), MAX_ENTRIES);
        assert_eq!(entries[0].line, 5);
    }
}
