//! The options of a `%sql` line, parsed like a command line (so `%sql --help` works and
//! mistakes get clap's precise messages). Every value is checked and typed here, before any
//! statement runs: a chart kind, a live mode, a duration.

use super::error::CellError;
use super::live::{parse_duration, LiveMode};
use crate::render::chart::ChartKind;
use clap::Parser;
use std::time::Duration;

/// Run SQL; options choose how the result is shown.
#[derive(Debug, Default, Parser)]
#[command(
    name = "%sql",
    no_binary_name = true,
    disable_version_flag = true,
    override_usage = "%sql [--chart KIND] [--x COL] [--y COL] [--color COL] [--title TEXT] [--max-rows N]\n       \
                      [--mode append|update|changelog|single] [--refresh 500ms] [--duration 30s] [--background]"
)]
pub struct SqlArgs {
    /// Draw the result: bar, line, area, point, arc, histogram or auto.
    #[arg(long, value_name = "KIND", value_parser = str::parse::<ChartKind>)]
    pub chart: Option<ChartKind>,
    /// The column along the x axis (or the slices of an arc chart).
    #[arg(long, value_name = "COL")]
    pub x: Option<String>,
    /// The column of values.
    #[arg(long, value_name = "COL")]
    pub y: Option<String>,
    /// The column that colours marks into series.
    #[arg(long, value_name = "COL")]
    pub color: Option<String>,
    /// The chart's title.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Rows shown of a result (default: %config max_rows).
    #[arg(long, value_name = "N")]
    pub max_rows: Option<usize>,
    /// A query over a stream: how its live result is shown — append (the latest rows),
    /// update (the current result), changelog (every change) or single (one value).
    #[arg(long, value_name = "MODE", value_parser = str::parse::<LiveMode>)]
    pub mode: Option<LiveMode>,
    /// A query over a stream: how often its display is redrawn, e.g. 500ms or 2s.
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    pub refresh: Option<Duration>,
    /// A query over a stream: stop it after this long, e.g. 30s or 5min.
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// A query over a stream: return at once and keep updating the display (%jobs lists
    /// such queries, %cancel stops them).
    #[arg(long)]
    pub background: bool,
}

/// What a `%sql` line asks for: options to run with, or its help text.
pub enum SqlLine {
    Run(SqlArgs),
    Help(String),
}

pub fn parse(args: &str) -> Result<SqlLine, CellError> {
    let words = shlex::split(args).ok_or_else(|| CellError::Usage {
        magic: "%sql",
        message: "a quote is not closed".to_string(),
    })?;
    match SqlArgs::try_parse_from(words) {
        Ok(parsed) => Ok(SqlLine::Run(parsed)),
        Err(error) if error.kind() == clap::error::ErrorKind::DisplayHelp => {
            Ok(SqlLine::Help(error.render().to_string()))
        }
        Err(error) => Err(CellError::Usage {
            magic: "%sql",
            message: error
                .render()
                .to_string()
                .trim_start_matches("error: ")
                .trim()
                .to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_options_are_read_with_quotes() {
        let SqlLine::Run(args) =
            parse("--chart bar --x year --y 'avg popularity' --title \"Per year\"").unwrap()
        else {
            panic!("not run");
        };
        assert_eq!(args.chart, Some(ChartKind::Bar));
        assert_eq!(args.x.as_deref(), Some("year"));
        assert_eq!(args.y.as_deref(), Some("avg popularity"));
        assert_eq!(args.title.as_deref(), Some("Per year"));
    }

    #[test]
    fn mistakes_and_help_are_answered() {
        assert!(matches!(parse("--help"), Ok(SqlLine::Help(text)) if text.contains("--chart")));
        let Err(error) = parse("--chrt bar") else {
            panic!("accepted a typo");
        };
        assert!(error.to_string().contains("--chrt"), "{error}");
        assert!(parse("--title 'open").is_err());
    }

    #[test]
    fn values_are_checked_as_the_line_is_read() {
        let SqlLine::Run(args) =
            parse("--mode changelog --refresh 250ms --duration '1 min'").unwrap()
        else {
            panic!("not run");
        };
        assert_eq!(args.mode, Some(LiveMode::Changelog));
        assert_eq!(args.refresh, Some(Duration::from_millis(250)));
        assert_eq!(args.duration, Some(Duration::from_secs(60)));
        for (line, says) in [
            ("--mode table", "'table' is not a mode"),
            ("--chart sankey", "sankey"),
            ("--refresh soon", "'soon' is not a duration"),
            ("--duration 2years", "longer than a year"),
        ] {
            let Err(error) = parse(line) else {
                panic!("accepted {line}");
            };
            assert!(error.to_string().contains(says), "{line}: {error}");
        }
    }
}
