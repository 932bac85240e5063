//! Query results as charts: a Vega-Lite v4 spec (drawn by JupyterLab and VS Code) and the
//! same chart as a static SVG (shown by nbconvert's HTML export and GitHub, which run no
//! JavaScript), with a one-line `text/plain`. No `text/html`: JupyterLab would prefer it to
//! the chart.

mod data;
mod spec;
mod svg;

use crate::server::protocol::MimeBundle;
use data::{ChartData, FieldKind};
use eddy_engine::RowSet;
use serde_json::json;
use std::fmt;
use std::str::FromStr;

/// Most rows drawn; the rest of a result is left out, and the description says so.
pub const MAX_CHART_ROWS: usize = 5000;

/// The kind of chart, as named in Vega-Lite (`arc` is a pie chart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartKind {
    Bar,
    Line,
    Area,
    Point,
    Arc,
    Histogram,
    /// Chosen from the column types.
    #[default]
    Auto,
}

impl ChartKind {
    pub const NAMES: [&'static str; 7] =
        ["bar", "line", "area", "point", "arc", "histogram", "auto"];

    pub fn name(self) -> &'static str {
        match self {
            ChartKind::Bar => "bar",
            ChartKind::Line => "line",
            ChartKind::Area => "area",
            ChartKind::Point => "point",
            ChartKind::Arc => "arc",
            ChartKind::Histogram => "histogram",
            ChartKind::Auto => "auto",
        }
    }

    /// How a person calls it: "Bar chart", "Scatter plot", …
    fn label(self) -> &'static str {
        match self {
            ChartKind::Bar => "Bar chart",
            ChartKind::Line => "Line chart",
            ChartKind::Area => "Area chart",
            ChartKind::Point => "Scatter plot",
            ChartKind::Arc => "Pie chart",
            ChartKind::Histogram => "Histogram",
            ChartKind::Auto => "Chart",
        }
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChartKind {
    type Err = ChartError;

    fn from_str(name: &str) -> Result<Self, ChartError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "bar" => Ok(ChartKind::Bar),
            "line" => Ok(ChartKind::Line),
            "area" => Ok(ChartKind::Area),
            "point" | "scatter" => Ok(ChartKind::Point),
            "arc" | "pie" => Ok(ChartKind::Arc),
            "histogram" => Ok(ChartKind::Histogram),
            "auto" => Ok(ChartKind::Auto),
            _ => Err(ChartError::UnknownKind(name.to_string())),
        }
    }
}

/// What to draw; columns left out are chosen from the column types.
#[derive(Debug, Clone, Default)]
pub struct ChartOptions {
    pub kind: ChartKind,
    /// Column on the x axis (the slices of an arc chart, the binned column of a histogram).
    pub x: Option<String>,
    /// Numeric column on the y axis (the slice sizes of an arc chart).
    pub y: Option<String>,
    /// Column whose values are drawn as separately coloured series.
    pub color: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("unknown chart kind '{0}': use one of {kinds}", kinds = ChartKind::NAMES.join(", "))]
    UnknownKind(String),
    #[error("no column '{name}' in the result; its columns are: {columns}")]
    UnknownColumn { name: String, columns: String },
    #[error("the result has no columns to chart")]
    NoColumns,
    #[error("the query returned no rows: there is nothing to chart")]
    NoRows,
    #[error("a {kind} chart needs a numeric column for y, and the result has none (its columns are: {columns})")]
    NoNumericColumn { kind: &'static str, columns: String },
    #[error("column '{name}' is {sql_type}, not a number: a {kind} chart needs a numeric {role}")]
    NotNumeric {
        name: String,
        sql_type: String,
        kind: &'static str,
        role: &'static str,
    },
    #[error("column '{name}' has no numeric values to chart (all NULL or not finite)")]
    NoValues { name: String },
    #[error("the chart could not be drawn: {0}")]
    Render(String),
}

/// The columns and kind a chart is drawn with, after defaults.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub kind: ChartKind,
    /// Column index of x (for a histogram: the binned column).
    pub x: usize,
    /// Column index of y; `None` for a histogram (y is the count).
    pub y: Option<usize>,
    pub color: Option<usize>,
}

/// A Vega-Lite chart, its SVG picture and a text line for the rows.
pub fn chart_bundle(rows: &RowSet, options: &ChartOptions) -> Result<MimeBundle, ChartError> {
    let plan = plan(rows, options)?;
    let kept = rows.kept_rows();
    if kept == 0 {
        return Err(ChartError::NoRows);
    }
    let data = ChartData::extract(rows, &plan, MAX_CHART_ROWS);
    if let Some(y) = plan.y {
        if !data.column(y).numbers.iter().any(Option::is_some) {
            return Err(ChartError::NoValues {
                name: data.column(y).name.clone(),
            });
        }
    } else if !data.column(plan.x).numbers.iter().any(Option::is_some) {
        return Err(ChartError::NoValues {
            name: data.column(plan.x).name.clone(),
        });
    }
    let text = Texts::new(rows, &plan, &data);
    let spec = spec::vega_lite(&plan, &data, &text, options.title.as_deref())?;
    let svg = svg::render(&plan, &data, &text, options.title.as_deref())?;

    let mut bundle = MimeBundle::new();
    bundle.insert("text/plain".into(), json!(text.plain));
    bundle.insert("image/svg+xml".into(), json!(svg));
    bundle.insert("application/vnd.vegalite.v4+json".into(), spec);
    Ok(bundle)
}

/// Resolves the kind and the columns of a chart from the options and the column types.
pub(crate) fn plan(rows: &RowSet, options: &ChartOptions) -> Result<Plan, ChartError> {
    let fields = rows.schema.fields();
    if fields.is_empty() {
        return Err(ChartError::NoColumns);
    }
    let kinds: Vec<FieldKind> = fields
        .iter()
        .map(|f| FieldKind::of(f.data_type()))
        .collect();
    let columns = || {
        fields
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let find = |name: &str| -> Result<usize, ChartError> {
        fields
            .iter()
            .position(|f| f.name() == name)
            .or_else(|| {
                fields
                    .iter()
                    .position(|f| f.name().eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| ChartError::UnknownColumn {
                name: name.to_string(),
                columns: columns(),
            })
    };
    let given_x = options.x.as_deref().map(find).transpose()?;
    let given_y = options.y.as_deref().map(find).transpose()?;
    let color = options.color.as_deref().map(find).transpose()?;
    let numeric = |i: usize| kinds[i] == FieldKind::Quantitative;
    let not_numeric = |i: usize, kind: ChartKind, role: &'static str| ChartError::NotNumeric {
        name: fields[i].name().clone(),
        sql_type: super::sql_type_name(fields[i].data_type()),
        kind: kind.name(),
        role,
    };
    let first_numeric_except = |except: Option<usize>| {
        (0..fields.len()).find(|&i| numeric(i) && Some(i) != except && Some(i) != color)
    };

    if options.kind == ChartKind::Histogram {
        let x = match given_x.or(given_y) {
            Some(x) => x,
            None => first_numeric_except(None).ok_or_else(|| ChartError::NoNumericColumn {
                kind: "histogram",
                columns: columns(),
            })?,
        };
        if !numeric(x) {
            return Err(not_numeric(x, ChartKind::Histogram, "column to bin"));
        }
        return Ok(Plan {
            kind: ChartKind::Histogram,
            x,
            y: None,
            color,
        });
    }

    let x = given_x.unwrap_or_else(|| {
        (0..fields.len())
            .find(|&i| !numeric(i) && Some(i) != given_y && Some(i) != color)
            .or_else(|| (0..fields.len()).find(|&i| Some(i) != given_y && Some(i) != color))
            .unwrap_or(0)
    });
    let y = given_y.or_else(|| first_numeric_except(Some(x)));
    let kind = match (options.kind, y) {
        (ChartKind::Auto, None) if numeric(x) => {
            return Ok(Plan {
                kind: ChartKind::Histogram,
                x,
                y: None,
                color,
            })
        }
        (ChartKind::Auto, Some(_)) => match kinds[x] {
            FieldKind::Temporal => ChartKind::Line,
            FieldKind::Quantitative => ChartKind::Point,
            FieldKind::Nominal => ChartKind::Bar,
        },
        (kind, _) => kind,
    };
    let Some(y) = y else {
        let kind = if kind == ChartKind::Auto {
            "bar"
        } else {
            kind.name()
        };
        return Err(ChartError::NoNumericColumn {
            kind,
            columns: columns(),
        });
    };
    if !numeric(y) {
        return Err(not_numeric(
            y,
            kind,
            if kind == ChartKind::Arc {
                "y (slice size)"
            } else {
                "y"
            },
        ));
    }
    Ok(Plan {
        kind,
        x,
        y: Some(y),
        color,
    })
}

/// The words that say what a chart shows.
#[derive(Debug, Clone)]
pub(crate) struct Texts {
    /// "Bar chart of avg_popularity by movie_release_year, colored by genre (first 5000 of
    /// 9000 rows)": the Vega-Lite description (aria-label) and the SVG's title.
    pub description: String,
    /// "<Bar chart: avg_popularity by movie_release_year, 42 rows>"
    pub plain: String,
}

impl Texts {
    fn new(rows: &RowSet, plan: &Plan, data: &ChartData) -> Texts {
        let x = &data.column(plan.x).name;
        let what = match plan.y {
            Some(y) => format!("{} by {x}", data.column(y).name),
            None => x.clone(),
        };
        let colored = plan
            .color
            .map(|c| format!(", colored by {}", data.column(c).name))
            .unwrap_or_default();
        let shown = data.rows;
        let total = rows.total_rows.max(rows.kept_rows());
        let rows_text = if shown < total {
            format!("first {shown} of {total} rows")
        } else if total == 1 {
            "1 row".to_string()
        } else {
            format!("{total} rows")
        };
        let label = plan.kind.label();
        let description = if shown < total {
            format!("{label} of {what}{colored} ({rows_text})")
        } else {
            format!("{label} of {what}{colored}")
        };
        let plain = format!("<{label}: {what}{colored}, {rows_text}>");
        Texts { description, plain }
    }
}

#[cfg(test)]
mod tests;
