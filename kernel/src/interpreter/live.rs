//! Live displays of running continuous queries: one output per query, redrawn in place
//! (`update_display_data` on its display id) at most once per refresh interval and only
//! when something changed, with a status line of the query's figures.

use super::error::CellError;
use crate::render::chart::{chart_bundle, ChartError, ChartOptions};
use crate::render::{self};
use crate::server::protocol::MimeBundle;
use crate::server::{DetachedOutputs, Outputs};
use eddy_engine::arrow::array::{ArrayRef, RecordBatch, StringArray};
use eddy_engine::arrow::datatypes::SchemaRef;
use eddy_engine::arrow::util::display::ArrayFormatter;
use eddy_engine::{changelog_schema, RowSet, StreamFigures, StreamKind, StreamUpdate};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// How a running query's result is shown (Zeppelin's `type=` of `%flink.ssql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveMode {
    /// The latest rows, newest last.
    Append,
    /// The current result, replaced as it changes.
    Update,
    /// Every change as a row: `+I`, `-U`, `+U`, `-D`.
    Changelog,
    /// One value: the first column of the result's last row.
    Single,
}

impl std::str::FromStr for LiveMode {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "append" => Ok(LiveMode::Append),
            "update" => Ok(LiveMode::Update),
            "changelog" => Ok(LiveMode::Changelog),
            "single" => Ok(LiveMode::Single),
            other => Err(format!(
                "'{other}' is not a mode; the modes are append, update, changelog and single"
            )),
        }
    }
}

/// Where a query stands, for its status line.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveState {
    Running,
    Finished,
    /// Stopped by an interrupt or `%cancel`.
    Cancelled,
    /// Stopped when its `--duration` ran out.
    TimedOut,
    Failed(String),
}

/// What a live display holds: the rows it shows and how.
pub struct LiveView {
    mode: LiveMode,
    kind: StreamKind,
    schema: SchemaRef,
    max_rows: usize,
    chart: Option<ChartOptions>,
    /// Append and changelog modes: the latest rows, at most `max_rows`.
    recent: VecDeque<RecordBatch>,
    recent_rows: usize,
    /// Rows (or changes) received in all.
    received: u64,
    /// Update and single modes: the current result.
    current: Vec<RecordBatch>,
    /// What an `INSERT INTO` has put into its table so far.
    sunk: Sunk,
    /// A statement set: what each INSERT has put into its table so far, in the set's order.
    sunk_into: Vec<(String, Sunk)>,
}

/// What a sink reported last.
enum Sunk {
    Nothing,
    Files {
        files: u64,
        rows: u64,
    },
    Discarded {
        rows: u64,
    },
    /// Records sent into a Kafka topic.
    Produced {
        topic: String,
        records: u64,
    },
    /// The latest lines a print sink printed (at most `max_rows`), and the rows in all.
    Printed {
        lines: VecDeque<String>,
        rows: u64,
    },
}

impl Sunk {
    /// A sink's report (written files, dropped rows, printed lines) taken in.
    fn apply(&mut self, update: StreamUpdate, max_rows: usize) {
        match update {
            StreamUpdate::Written { files, rows } => *self = Sunk::Files { files, rows },
            StreamUpdate::Discarded { rows } => *self = Sunk::Discarded { rows },
            StreamUpdate::Produced { topic, records } => *self = Sunk::Produced { topic, records },
            StreamUpdate::Printed { lines, rows } => {
                let mut kept = match std::mem::replace(self, Sunk::Nothing) {
                    Sunk::Printed { lines, .. } => lines,
                    _ => VecDeque::new(),
                };
                kept.extend(lines);
                while kept.len() > max_rows {
                    kept.pop_front();
                }
                *self = Sunk::Printed { lines: kept, rows };
            }
            // Rows and snapshots are not a sink's, nor a set's updates a single sink's.
            StreamUpdate::Rows(_) | StreamUpdate::Snapshot { .. } | StreamUpdate::Into { .. } => {}
        }
    }

    /// What the sink has taken, as the status line says it.
    fn describe(&self) -> String {
        match self {
            Sunk::Nothing => "no rows yet".to_string(),
            Sunk::Files { files, rows } => format!("{rows} rows in {files} files"),
            Sunk::Discarded { rows } => format!("{rows} rows, dropped (blackhole)"),
            Sunk::Produced { topic, records } => {
                format!("{records} records sent to Kafka topic {topic}")
            }
            Sunk::Printed { lines, rows } => {
                let shown = if (lines.len() as u64) < *rows {
                    format!(", the last {}", lines.len())
                } else {
                    String::new()
                };
                let lines = lines.iter().map(String::as_str).collect::<Vec<_>>();
                format!("{rows} rows printed{shown}:\n{}", lines.join("\n"))
            }
        }
    }
}

impl LiveView {
    pub fn new(
        mode: LiveMode,
        kind: StreamKind,
        schema: SchemaRef,
        max_rows: usize,
        chart: Option<ChartOptions>,
    ) -> Self {
        let schema = match mode {
            LiveMode::Changelog => changelog_schema(&schema),
            _ => schema,
        };
        let kind_tables = match &kind {
            StreamKind::StatementSet { tables } => Some(tables.clone()),
            _ => None,
        };
        LiveView {
            mode,
            kind,
            schema,
            max_rows: max_rows.max(1),
            chart,
            recent: VecDeque::new(),
            recent_rows: 0,
            received: 0,
            current: Vec::new(),
            sunk: Sunk::Nothing,
            sunk_into: match &kind_tables {
                Some(tables) => tables.iter().map(|t| (t.clone(), Sunk::Nothing)).collect(),
                None => Vec::new(),
            },
        }
    }

    /// The mode a query is shown in when the cell does not say: an updating result as a
    /// table kept current, anything else as the latest rows.
    pub fn default_mode(kind: &StreamKind) -> LiveMode {
        match kind {
            StreamKind::Updating { .. } => LiveMode::Update,
            _ => LiveMode::Append,
        }
    }

    pub fn apply(&mut self, update: StreamUpdate) -> Result<(), CellError> {
        match update {
            StreamUpdate::Rows(batches) => {
                for batch in batches {
                    self.received += batch.num_rows() as u64;
                    match self.mode {
                        LiveMode::Changelog => {
                            let batch = with_op(&self.schema, "+I", &batch)?;
                            self.push_recent(batch);
                        }
                        LiveMode::Append => self.push_recent(batch),
                        // An append-only result shown whole: every row so far, capped.
                        LiveMode::Update | LiveMode::Single => self.push_recent(batch),
                    }
                }
            }
            StreamUpdate::Snapshot { rows, changes } => {
                self.received += changes.num_rows() as u64;
                match self.mode {
                    LiveMode::Changelog => self.push_recent(changes),
                    _ => self.current = rows,
                }
            }
            StreamUpdate::Into { table, update } => {
                let max_rows = self.max_rows;
                let at = match self.sunk_into.iter().position(|(t, _)| *t == table) {
                    Some(at) => at,
                    None => {
                        self.sunk_into.push((table, Sunk::Nothing));
                        self.sunk_into.len() - 1
                    }
                };
                self.sunk_into[at].1.apply(*update, max_rows);
            }
            sink_update => self.sunk.apply(sink_update, self.max_rows),
        }
        Ok(())
    }

    fn push_recent(&mut self, batch: RecordBatch) {
        self.recent_rows += batch.num_rows();
        self.recent.push_back(batch);
        while self.recent_rows > self.max_rows {
            let Some(front) = self.recent.pop_front() else {
                break;
            };
            let excess = self.recent_rows - self.max_rows;
            if front.num_rows() > excess {
                self.recent
                    .push_front(front.slice(excess, front.num_rows() - excess));
                self.recent_rows -= excess;
            } else {
                self.recent_rows -= front.num_rows();
            }
        }
    }

    /// The rows on screen.
    fn shown(&self) -> Vec<RecordBatch> {
        let updating = matches!(self.kind, StreamKind::Updating { .. });
        match self.mode {
            LiveMode::Update | LiveMode::Single if updating => self
                .current
                .iter()
                .scan(0usize, |taken, batch| {
                    let take = batch.num_rows().min(self.max_rows.saturating_sub(*taken));
                    *taken += take;
                    Some(batch.slice(0, take))
                })
                .filter(|b| b.num_rows() > 0)
                .collect(),
            _ => self.recent.iter().cloned().collect(),
        }
    }

    /// Rows of the full result when only some are shown.
    fn total(&self) -> usize {
        match (&self.kind, self.mode) {
            (StreamKind::Updating { .. }, LiveMode::Update | LiveMode::Single) => {
                self.current.iter().map(RecordBatch::num_rows).sum()
            }
            _ => self.received as usize,
        }
    }

    pub fn render(&self, status: &str) -> MimeBundle {
        if let StreamKind::Sink { table } = &self.kind {
            let done = self.sunk.describe();
            return render::plain(format!("{status}\nINSERT INTO {table}: {done}"));
        }
        if let StreamKind::StatementSet { .. } = &self.kind {
            let lines: Vec<String> = self
                .sunk_into
                .iter()
                .map(|(table, sunk)| format!("INSERT INTO {table}: {}", sunk.describe()))
                .collect();
            return render::plain(format!("{status}\n{}", lines.join("\n")));
        }
        let shown = self.shown();
        let kept: usize = shown.iter().map(RecordBatch::num_rows).sum();
        let total = self.total();
        let status = if kept < total {
            let which = match self.mode {
                LiveMode::Append | LiveMode::Changelog => "last",
                _ => "first",
            };
            format!("{status} · showing the {which} {kept} of {total} rows")
        } else {
            status.to_string()
        };
        if self.mode == LiveMode::Single {
            return single_value(&shown, &status);
        }
        let rows = RowSet {
            schema: self.schema.clone(),
            batches: shown,
            total_rows: kept,
            skipped_rows: 0,
            ran_on: None,
        };
        if let Some(options) = &self.chart {
            match chart_bundle(&rows, options) {
                Ok(bundle) => return with_chart_status(bundle, &status),
                Err(ChartError::NoRows) => {
                    return render::plain(format!("{status}\n(the chart waits for rows)"))
                }
                Err(error) => return render::plain(format!("{status}\n{error}")),
            }
        }
        with_status(render::rows_bundle(&rows), &status)
    }
}

/// Where a live display is drawn: a cell's outputs, or a background job's.
pub trait LiveOutput: Sync {
    fn show(&self, display_id: &str, bundle: MimeBundle);
    fn replace(&self, display_id: &str, bundle: MimeBundle);
}

/// How a live query's display loop ended.
pub enum Ended {
    Finished,
    Cancelled,
    TimedOut,
    Failed(eddy_engine::EngineError),
}

/// Where the driver reports figures while it runs (a background job's `%jobs` line).
pub trait FigureReport: Sync {
    fn report(&self, figures: StreamFigures, state: LiveState);
}

impl FigureReport for () {
    fn report(&self, _: StreamFigures, _: LiveState) {}
}

impl LiveOutput for Outputs<'_> {
    fn show(&self, display_id: &str, bundle: MimeBundle) {
        self.display_with_id(display_id, bundle);
    }

    fn replace(&self, display_id: &str, bundle: MimeBundle) {
        self.update(display_id, bundle);
    }
}

impl LiveOutput for DetachedOutputs {
    fn show(&self, display_id: &str, bundle: MimeBundle) {
        self.publish("display_data", display_id, bundle);
    }

    fn replace(&self, display_id: &str, bundle: MimeBundle) {
        self.publish("update_display_data", display_id, bundle);
    }
}

/// Shows a running query in one display and keeps it current until the query ends, the
/// `deadline` passes, or `cancel` fires; the display then shows how it ended.
#[allow(clippy::too_many_arguments)]
pub async fn drive(
    query: &mut eddy_engine::ContinuousQuery,
    view: &mut LiveView,
    out: &dyn LiveOutput,
    display_id: &str,
    refresh: Duration,
    deadline: Option<tokio::time::Instant>,
    cancel: &tokio_util::sync::CancellationToken,
    report: &dyn FigureReport,
) -> Ended {
    use tokio::time::{sleep_until, Instant};
    query.set_emit_interval(refresh);
    out.show(
        display_id,
        view.render(&status_line(&query.figures(), &LiveState::Running)),
    );
    let mut changed = false;
    let mut last = query.figures();
    let mut draw_at = Instant::now() + refresh;
    let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    let ended = loop {
        tokio::select! {
            // In this order: a cancel or the deadline wins; a due redraw is not starved by
            // a fast stream of updates.
            biased;
            _ = cancel.cancelled() => {
                query.canceller().cancel();
                let _ = query.finish().await;
                break Ended::Cancelled;
            }
            _ = sleep_until(deadline.unwrap_or(far)) => {
                query.canceller().cancel();
                let _ = query.finish().await;
                break Ended::TimedOut;
            }
            _ = sleep_until(draw_at) => {
                let figures = query.figures();
                let moved = figures.rows_in != last.rows_in
                    || figures.watermark_ms != last.watermark_ms
                    || figures.late_rows != last.late_rows
                    || figures.source_lag != last.source_lag
                    || figures.source_trouble != last.source_trouble;
                if changed || moved {
                    out.replace(display_id, view.render(&status_line(&figures, &LiveState::Running)));
                    report.report(figures.clone(), LiveState::Running);
                    changed = false;
                    last = figures;
                }
                draw_at = Instant::now() + refresh;
            }
            update = query.next_update() => match update {
                Some(update) => {
                    if let Err(error) = view.apply(update) {
                        query.canceller().cancel();
                        break Ended::Failed(eddy_engine::EngineError::Internal {
                            message: error.to_string(),
                            source: None,
                        });
                    }
                    changed = true;
                }
                None => {
                    break match query.finish().await {
                        Ok(eddy_engine::StreamEnd::Finished) => Ended::Finished,
                        Ok(eddy_engine::StreamEnd::Cancelled) => Ended::Cancelled,
                        Err(error) => Ended::Failed(error),
                    };
                }
            },
        }
    };
    let state = match &ended {
        Ended::Finished => LiveState::Finished,
        Ended::Cancelled => LiveState::Cancelled,
        Ended::TimedOut => LiveState::TimedOut,
        Ended::Failed(error) => LiveState::Failed(error.to_string()),
    };
    let figures = query.figures();
    out.replace(display_id, view.render(&status_line(&figures, &state)));
    report.report(figures, state);
    ended
}

fn with_op(schema: &SchemaRef, op: &str, batch: &RecordBatch) -> Result<RecordBatch, CellError> {
    let ops: ArrayRef = Arc::new(StringArray::from(vec![op; batch.num_rows()]));
    let mut columns = vec![ops];
    columns.extend(batch.columns().iter().cloned());
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| CellError::Internal(e.to_string()))
}

/// The status line above a table: in the text, and as a line of the HTML.
fn with_status(mut bundle: MimeBundle, status: &str) -> MimeBundle {
    if let Some(Value::String(text)) = bundle.get("text/plain") {
        let text = format!("{status}\n{text}");
        bundle.insert("text/plain".into(), json!(text));
    }
    if let Some(Value::String(html)) = bundle.get("text/html") {
        let html = format!(
            "<div class=\"eddy-live\"><div class=\"eddy-status\" style=\"font-family: \
             monospace; font-size: 0.85em; opacity: 0.8; margin-bottom: 4px\">{}</div>{html}</div>",
            html_escape::encode_text(status)
        );
        bundle.insert("text/html".into(), json!(html));
    }
    bundle
}

/// A chart has no HTML to put a line in: the status becomes the chart's subtitle (and
/// the first line of its text).
fn with_chart_status(mut bundle: MimeBundle, status: &str) -> MimeBundle {
    for (mime, spec) in bundle.iter_mut() {
        if mime.starts_with("application/vnd.vegalite") {
            if let Value::Object(spec) = spec {
                let title = match spec.get("title") {
                    Some(Value::String(text)) => json!({ "text": text, "subtitle": status }),
                    Some(Value::Object(title)) => {
                        let mut title = title.clone();
                        title.insert("subtitle".into(), json!(status));
                        Value::Object(title)
                    }
                    _ => json!({ "text": "", "subtitle": status }),
                };
                spec.insert("title".into(), title);
            }
        }
    }
    if let Some(Value::String(text)) = bundle.get("text/plain") {
        let text = format!("{status}\n{text}");
        bundle.insert("text/plain".into(), json!(text));
    }
    bundle
}

fn single_value(shown: &[RecordBatch], status: &str) -> MimeBundle {
    let last = shown.iter().rev().find(|b| b.num_rows() > 0);
    let Some(batch) = last else {
        return render::plain(format!("{status}\n(no value yet)"));
    };
    let name = batch.schema().field(0).name().clone();
    let value = ArrayFormatter::try_new(batch.column(0).as_ref(), &Default::default())
        .map(|f| f.value(batch.num_rows() - 1).to_string())
        .unwrap_or_default();
    let mut bundle = render::plain(format!("{status}\n{name}: {value}"));
    bundle.insert(
        "text/html".into(),
        json!(format!(
            "<div class=\"eddy-live\"><div class=\"eddy-status\" style=\"font-family: monospace; \
             font-size: 0.85em; opacity: 0.8\">{}</div><div style=\"font-size: 2.5em; \
             font-weight: 600\">{}</div><div style=\"opacity: 0.7\">{}</div></div>",
            html_escape::encode_text(status),
            html_escape::encode_text(&value),
            html_escape::encode_text(&name)
        )),
    );
    bundle
}

/// `running 12.3 s · 120,000 rows in (9,800/s) · watermark 2024-01-01 00:01:00 · 3 late
/// rows dropped · state 1,200 keys, 3.0 MiB`.
pub fn status_line(figures: &StreamFigures, state: &LiveState) -> String {
    let seconds = figures.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        figures.rows_in as f64 / seconds
    } else {
        0.0
    };
    let head = match state {
        LiveState::Running => format!("running {seconds:.1} s"),
        LiveState::Finished => format!("finished after {seconds:.1} s"),
        LiveState::Cancelled => format!("cancelled after {seconds:.1} s"),
        LiveState::TimedOut => format!("stopped after its --duration of {seconds:.1} s"),
        LiveState::Failed(error) => format!("failed after {seconds:.1} s: {error}"),
    };
    let mut line = match &figures.ran_on {
        // Rows read are the job's to count; what arrives here is its result.
        Some(elsewhere) => format!(
            "{head} · {elsewhere} · {} result rows received ({}/s)",
            thousands(figures.rows_in),
            thousands(rate.round() as u64)
        ),
        None => format!(
            "{head} · {} rows in ({}/s)",
            thousands(figures.rows_in),
            thousands(rate.round() as u64)
        ),
    };
    if let Some(watermark) = figures.watermark_ms {
        let shown = chrono::DateTime::from_timestamp_millis(watermark)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_else(|| watermark.to_string());
        line.push_str(&format!(" · watermark {shown}"));
    }
    if figures.skipped_rows > 0 {
        line.push_str(&format!(
            " · {} malformed rows skipped",
            thousands(figures.skipped_rows)
        ));
    }
    if let Some(lag) = figures.source_lag {
        line.push_str(&format!(" · lag {} records", thousands(lag)));
    }
    if let Some(trouble) = &figures.source_trouble {
        line.push_str(&format!(" · source: {trouble}"));
    }
    if figures.late_rows > 0 {
        line.push_str(&format!(
            " · {} late rows dropped",
            thousands(figures.late_rows)
        ));
    }
    if figures.state_bytes > 0 {
        line.push_str(&format!(
            " · state {} keys, {}",
            thousands(figures.state_keys),
            bytesize::ByteSize::b(figures.state_bytes)
        ));
    }
    if figures.micro_batches > 0 {
        let mean = figures
            .micro_batch_time
            .div_f64(figures.micro_batches as f64);
        line.push_str(&format!(
            " · {} micro-batches, {} each, slowest {}",
            thousands(figures.micro_batches),
            milliseconds(mean),
            milliseconds(figures.slowest_micro_batch)
        ));
    }
    line
}

/// `8.3 ms`, `120 ms`.
fn milliseconds(time: Duration) -> String {
    let ms = time.as_secs_f64() * 1000.0;
    match ms {
        ms if ms < 10.0 => format!("{ms:.1} ms"),
        ms => format!("{ms:.0} ms"),
    }
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Parses `500ms`, `2s`, `1 min` (the `--refresh` and `--duration` options).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let compact: String = text.split_whitespace().collect();
    let duration = humantime::parse_duration(&compact)
        .map_err(|_| format!("'{text}' is not a duration; write e.g. 500ms, 2s or 1min"))?;
    // A deadline or a timer is a point in time: one past the clock's range cannot be set.
    if duration > MAX_DURATION {
        return Err(format!(
            "'{text}' is longer than a year, the longest duration here"
        ));
    }
    Ok(duration)
}

/// The longest `--duration` or `--refresh`.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_say_rate_watermark_and_late_rows() {
        let figures = StreamFigures {
            elapsed: Duration::from_secs(2),
            rows_in: 12_000,
            late_rows: 3,
            rows_out: 10,
            watermark_ms: Some(1_704_067_260_000),
            state_keys: 4,
            state_bytes: 3 << 20,
            skipped_rows: 0,
            micro_batches: 40,
            micro_batch_time: Duration::from_millis(332),
            slowest_micro_batch: Duration::from_millis(25),
            source_lag: None,
            source_trouble: None,
            ran_on: None,
        };
        let line = status_line(&figures, &LiveState::Running);
        assert_eq!(
            line,
            "running 2.0 s · 12,000 rows in (6,000/s) · watermark 2024-01-01 00:01:00.000 · \
             3 late rows dropped · state 4 keys, 3.0 MiB · 40 micro-batches, 8.3 ms each, \
             slowest 25 ms"
        );
        assert!(status_line(&figures, &LiveState::Cancelled).starts_with("cancelled after"));
        let kafka = StreamFigures {
            source_lag: Some(12_500),
            source_trouble: Some("Kafka: broker down; retrying".into()),
            ..figures
        };
        let line = status_line(&kafka, &LiveState::Running);
        assert!(
            line.contains(" · lag 12,500 records · source: Kafka: broker down; retrying · "),
            "{line}"
        );
        let flink = StreamFigures {
            ran_on: Some("Flink job 4c1e at flink://127.0.0.1:8083".into()),
            watermark_ms: None,
            late_rows: 0,
            state_bytes: 0,
            micro_batches: 0,
            ..kafka
        };
        let line = status_line(&flink, &LiveState::Finished);
        assert!(
            line.starts_with(
                "finished after 2.0 s · Flink job 4c1e at flink://127.0.0.1:8083 · 12,000 \
                 result rows received (6,000/s)"
            ),
            "{line}"
        );
    }

    #[test]
    fn durations_and_modes_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("18446744073709551615s")
            .is_err_and(|e| e.contains("longer than a year")));
        assert_eq!(parse_duration("2 s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("soon").is_err());
        assert_eq!("CHANGELOG".parse::<LiveMode>(), Ok(LiveMode::Changelog));
        assert!("table".parse::<LiveMode>().is_err());
    }
}
