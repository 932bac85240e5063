//! The chart as a static SVG, drawn with `plotters`, for viewers that run no JavaScript.
//! Colours, bins, stacking and category order follow what Vega-Lite draws from the spec.

use super::data::{ChartData, FieldKind};
use super::{ChartError, ChartKind, Plan, Texts};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 420;
const LEGEND_WIDTH: u32 = 160;
const FONT: &str = "sans-serif";
const TEXT: RGBColor = RGBColor(50, 50, 50);
const GRID: RGBColor = RGBColor(225, 225, 225);
const AXIS: RGBColor = RGBColor(136, 136, 136);
/// Approximate width of a 12px sans-serif character, for layout.
const CHAR_WIDTH: f64 = 7.0;
const MAX_LABEL_CHARS: usize = 18;

/// Vega-Lite's default categorical scheme (tableau10), so both pictures agree.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4c, 0x78, 0xa8),
    RGBColor(0xf5, 0x85, 0x18),
    RGBColor(0xe4, 0x57, 0x56),
    RGBColor(0x72, 0xb7, 0xb2),
    RGBColor(0x54, 0xa2, 0x4b),
    RGBColor(0xee, 0xca, 0x3b),
    RGBColor(0xb2, 0x79, 0xa2),
    RGBColor(0xff, 0x9d, 0xa6),
    RGBColor(0x9d, 0x75, 0x5d),
    RGBColor(0xba, 0xb0, 0xac),
];

fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn draw_error(error: impl std::fmt::Display) -> ChartError {
    ChartError::Render(format!("SVG: {error}"))
}

/// Histogram bins: `count` bins of `step` from `start`, with "nice" steps (1, 2, 5 × 10ⁿ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bins {
    pub start: f64,
    pub step: f64,
    pub count: usize,
}

impl Bins {
    pub fn of(values: &[Option<f64>]) -> Bins {
        let (min, max, n) = values.iter().flatten().fold(
            (f64::INFINITY, f64::NEG_INFINITY, 0usize),
            |(lo, hi, n), &v| (lo.min(v), hi.max(v), n + 1),
        );
        if n == 0 {
            return Bins {
                start: 0.0,
                step: 1.0,
                count: 1,
            };
        }
        let max_bins = if n >= 100 { 20.0 } else { 10.0 };
        let span = max - min;
        let step = if span > 0.0 {
            nice_step(span / max_bins)
        } else {
            nice_step(min.abs().max(1.0) / 10.0)
        };
        let start = (min / step).floor() * step;
        let count = (((max - start) / step).ceil() as usize).max(1);
        Bins { start, step, count }
    }

    pub fn end(&self) -> f64 {
        self.start + self.step * self.count as f64
    }

    /// The bin of a value; the top edge belongs to the last bin, as in Vega.
    pub fn index(&self, value: f64) -> usize {
        let i = ((value - self.start) / self.step + 1e-9).floor();
        (i.max(0.0) as usize).min(self.count - 1)
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// Ticks at a nice step covering `lo..hi` (extended to the ticks), at most about `target`.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>, f64) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        let pad = lo.abs().max(1.0) * 0.5;
        (lo - pad, hi + pad)
    };
    let step = nice_step((hi - lo) / target as f64);
    let first = (lo / step).floor() * step;
    let last = (hi / step).ceil() * step;
    let count = ((last - first) / step).round() as usize;
    let ticks = (0..=count).map(|i| first + step * i as f64).collect();
    (first, last, ticks, step)
}

/// A tick label: as many decimals as the step needs, thousands as "k"/"M" when large.
fn format_number(value: f64, step: f64) -> String {
    let value = if value.abs() < step * 1e-9 {
        0.0
    } else {
        value
    };
    let abs = step.abs().max(value.abs());
    if abs >= 1e6 && step >= 1e5 {
        let scaled = value / 1e6;
        return format!("{}M", trim(format!("{:.*}", decimals(step / 1e6), scaled)));
    }
    if abs >= 1e4 && step >= 1e3 {
        let scaled = value / 1e3;
        return format!("{}k", trim(format!("{:.*}", decimals(step / 1e3), scaled)));
    }
    trim(format!("{:.*}", decimals(step), value))
}

fn decimals(step: f64) -> usize {
    if step >= 1.0 || step <= 0.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize + 1).min(10)
    }
}

fn trim(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn truncate(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut short: String = label.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

fn millis_to_time(ms: f64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .naive_utc()
}

/// Time ticks on calendar boundaries (years, months, days) or round intervals, and how to
/// write them.
fn time_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, &'static str) {
    const SECOND: f64 = 1000.0;
    const MINUTE: f64 = 60.0 * SECOND;
    const HOUR: f64 = 60.0 * MINUTE;
    const DAY: f64 = 24.0 * HOUR;
    let span = (hi - lo).max(1.0);
    let raw = span / target as f64;
    let to_ms = |t: NaiveDateTime| t.and_utc().timestamp_millis() as f64;
    if raw >= 300.0 * DAY {
        let years = nice_step(raw / (365.25 * DAY)).max(1.0).round() as i32;
        let (y0, y1) = (millis_to_time(lo).year(), millis_to_time(hi).year());
        let first = y0 - y0.rem_euclid(years);
        let ticks = (first..=y1 + 1)
            .step_by(years as usize)
            .filter_map(|y| NaiveDate::from_ymd_opt(y, 1, 1))
            .map(|d| to_ms(d.and_hms_opt(0, 0, 0).unwrap_or_default()))
            .filter(|&t| t >= lo && t <= hi)
            .collect();
        return (ticks, "%Y");
    }
    if raw >= 25.0 * DAY {
        let months = [1, 2, 3, 6]
            .into_iter()
            .find(|&m| m as f64 * 30.0 * DAY >= raw)
            .unwrap_or(6);
        let start = millis_to_time(lo);
        let mut month = start.year() * 12 + start.month0() as i32;
        month -= month.rem_euclid(months);
        let mut ticks = Vec::new();
        while let Some(date) = NaiveDate::from_ymd_opt(month / 12, (month % 12) as u32 + 1, 1) {
            let t = to_ms(date.and_hms_opt(0, 0, 0).unwrap_or_default());
            if t > hi {
                break;
            }
            if t >= lo {
                ticks.push(t);
            }
            month += months;
        }
        return (ticks, "%b %Y");
    }
    let steps = [
        SECOND,
        5.0 * SECOND,
        15.0 * SECOND,
        30.0 * SECOND,
        MINUTE,
        5.0 * MINUTE,
        15.0 * MINUTE,
        30.0 * MINUTE,
        HOUR,
        3.0 * HOUR,
        6.0 * HOUR,
        12.0 * HOUR,
        DAY,
        2.0 * DAY,
        7.0 * DAY,
        14.0 * DAY,
    ];
    let step = steps.into_iter().find(|&s| s >= raw).unwrap_or(14.0 * DAY);
    let format = if step >= DAY {
        "%b %d"
    } else if millis_to_time(lo).date() != millis_to_time(hi).date() {
        "%b %d %H:%M"
    } else if step >= MINUTE {
        "%H:%M"
    } else {
        "%H:%M:%S"
    };
    let first = (lo / step).ceil() * step;
    let count = ((hi - first) / step).floor().max(0.0) as usize;
    let ticks = (0..=count).map(|i| first + step * i as f64).collect();
    (ticks, format)
}

/// A linear f64 axis with the ticks given (plotters' own picks its ticks, and its
/// combinators have no default label formatting to override).
struct TickAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl TickAxis {
    fn new(range: Range<f64>, ticks: Vec<f64>) -> TickAxis {
        let ticks = ticks
            .into_iter()
            .filter(|t| *t >= range.start - 1e-9 && *t <= range.end + 1e-9)
            .collect();
        TickAxis { range, ticks }
    }
}

impl Ranged for TickAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let share = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + (share * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A legend's title and entries.
type Legend = Option<(String, Vec<(String, RGBColor)>)>;
/// Writes an x tick label.
type XFormat = Box<dyn Fn(f64) -> String>;

/// What goes along x.
enum XScale {
    /// Categories at 0, 1, 2, …
    Categories(Vec<String>),
    Numbers,
    Times,
}

enum Marks {
    /// (x0, x1, y0, y1, colour)
    Rects(Vec<(f64, f64, f64, f64, RGBColor)>),
    /// One polyline per series; `area` fills down to zero.
    Lines {
        series: Vec<(Vec<(f64, f64)>, RGBColor)>,
        area: bool,
        dots: bool,
    },
    Dots(Vec<(f64, f64, RGBColor)>),
}

struct Frame {
    x_scale: XScale,
    x_title: String,
    y_title: String,
    marks: Marks,
    /// A scatter plot: y is scaled to the data, without zero.
    scatter: bool,
    legend: Legend,
}

/// Series of each row (by the colour column's sorted values, as Vega-Lite colours them).
fn series(data: &ChartData, plan: &Plan) -> (Vec<usize>, Legend) {
    let Some(c) = plan.color else {
        return (vec![0; data.rows], None);
    };
    let column = data.column(c);
    let names: BTreeMap<&str, usize> = column.text.iter().map(|t| (t.as_str(), 0)).collect();
    let index: HashMap<&str, usize> = names
        .keys()
        .enumerate()
        .map(|(i, name)| (*name, i))
        .collect();
    let rows = column.text.iter().map(|t| index[t.as_str()]).collect();
    let legend = names
        .keys()
        .enumerate()
        .map(|(i, name)| (name.to_string(), color(i)))
        .collect();
    (rows, Some((column.name.clone(), legend)))
}

/// Categories in first-seen order (the query's order), and each row's category.
fn categories(text: &[String]) -> (Vec<String>, Vec<usize>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut names = Vec::new();
    let rows = text
        .iter()
        .map(|t| {
            *seen.entry(t.as_str()).or_insert_with(|| {
                names.push(t.clone());
                names.len() - 1
            })
        })
        .collect();
    (names, rows)
}

fn frame(plan: &Plan, data: &ChartData) -> Frame {
    let x = data.column(plan.x);
    let (row_series, legend) = series(data, plan);
    match plan.kind {
        ChartKind::Histogram => {
            let bins = Bins::of(&x.numbers);
            let mut stacks = vec![0.0; bins.count];
            let mut counts: BTreeMap<(usize, usize), f64> = BTreeMap::new();
            for (value, s) in x.numbers.iter().zip(&row_series) {
                if let Some(v) = value {
                    *counts.entry((*s, bins.index(*v))).or_default() += 1.0;
                }
            }
            let mut rects = Vec::new();
            for ((s, bin), count) in counts {
                let x0 = bins.start + bins.step * bin as f64;
                let base = stacks[bin];
                stacks[bin] += count;
                rects.push((x0, x0 + bins.step, base, base + count, color(s)));
            }
            Frame {
                x_scale: XScale::Numbers,
                x_title: x.name.clone(),
                y_title: "count".into(),
                marks: Marks::Rects(rects),
                scatter: false,
                legend,
            }
        }
        _ => {
            let y = data.column(plan.y.expect("y of a cartesian chart"));
            let bar = plan.kind == ChartKind::Bar;
            let (x_scale, xs): (XScale, Vec<Option<f64>>) = if bar || x.kind == FieldKind::Nominal {
                let (names, rows) = categories(&x.text);
                (
                    XScale::Categories(names),
                    rows.into_iter().map(|i| Some(i as f64)).collect(),
                )
            } else if x.kind == FieldKind::Temporal {
                (XScale::Times, x.numbers.clone())
            } else {
                (XScale::Numbers, x.numbers.clone())
            };
            let marks = match plan.kind {
                ChartKind::Bar => {
                    // Stacked like Vega-Lite: positives up from zero, negatives down.
                    let mut stacks: HashMap<(u64, bool), f64> = HashMap::new();
                    let mut rects = Vec::new();
                    for ((x, y), s) in xs.iter().zip(&y.numbers).zip(&row_series) {
                        let (Some(x), Some(y)) = (x, y) else { continue };
                        let base = stacks.entry((*x as u64, *y >= 0.0)).or_default();
                        rects.push((x - 0.4, x + 0.4, *base, *base + y, color(*s)));
                        *base += y;
                    }
                    Marks::Rects(rects)
                }
                ChartKind::Point => Marks::Dots(
                    xs.iter()
                        .zip(&y.numbers)
                        .zip(&row_series)
                        .filter_map(|((x, y), s)| Some(((*x)?, (*y)?, color(*s))))
                        .collect(),
                ),
                _ => {
                    let count = legend.as_ref().map_or(1, |(_, l)| l.len());
                    let mut lines: Vec<Vec<(f64, f64)>> = vec![Vec::new(); count];
                    for ((x, y), s) in xs.iter().zip(&y.numbers).zip(&row_series) {
                        if let (Some(x), Some(y)) = (x, y) {
                            lines[*s].push((*x, *y));
                        }
                    }
                    for line in &mut lines {
                        line.sort_by(|a, b| a.0.total_cmp(&b.0));
                    }
                    Marks::Lines {
                        series: lines
                            .into_iter()
                            .enumerate()
                            .map(|(i, l)| (l, color(i)))
                            .collect(),
                        area: plan.kind == ChartKind::Area,
                        dots: plan.kind == ChartKind::Line && data.rows <= 200,
                    }
                }
            };
            Frame {
                x_scale,
                x_title: x.name.clone(),
                y_title: y.name.clone(),
                marks,
                scatter: plan.kind == ChartKind::Point,
                legend,
            }
        }
    }
}

pub fn render(
    plan: &Plan,
    data: &ChartData,
    text: &Texts,
    title: Option<&str>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let area = match title {
            Some(title) => root
                .titled(title, (FONT, 20).into_font().color(&TEXT))
                .map_err(draw_error)?,
            None => root.clone(),
        };
        let area = area.margin(8, 8, 8, 8);
        if plan.kind == ChartKind::Arc {
            pie(&area, plan, data)?;
        } else {
            cartesian(&area, frame(plan, data))?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(accessible(svg, &text.description))
}

/// Gives the picture its description, as a `<title>` and `aria-label`.
fn accessible(svg: String, description: &str) -> String {
    let escaped = html_escape::encode_double_quoted_attribute(description);
    let Some(end) = svg.find('>') else {
        return svg;
    };
    let (head, rest) = svg.split_at(end);
    format!(
        "{head} role=\"img\" aria-label=\"{escaped}\">\n<title>{}</title>{}",
        html_escape::encode_text(description),
        &rest[1..]
    )
}

fn legend_area<'a>(area: &Area<'a>, legend: &Legend) -> (Area<'a>, Option<Area<'a>>) {
    match legend {
        Some(_) => {
            let width = area.dim_in_pixel().0;
            let (plot, side) = area.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
            (plot, Some(side))
        }
        None => (area.clone(), None),
    }
}

fn draw_legend(area: &Area, title: &str, entries: &[(String, RGBColor)]) -> Result<(), ChartError> {
    let bold = (FONT, 13).into_font().style(FontStyle::Bold).color(&TEXT);
    let normal = (FONT, 12).into_font().color(&TEXT);
    area.draw(&Text::new(truncate(title, 20), (12, 10), bold))
        .map_err(draw_error)?;
    let rows = ((area.dim_in_pixel().1 as usize).saturating_sub(40)) / 18;
    for (i, (name, c)) in entries.iter().enumerate() {
        let y = 32 + 18 * i as i32;
        if i + 1 >= rows && entries.len() > rows {
            let more = format!("… {} more", entries.len() - i);
            area.draw(&Text::new(more, (12, y), normal.clone()))
                .map_err(draw_error)?;
            break;
        }
        area.draw(&Rectangle::new([(12, y), (24, y + 12)], c.filled()))
            .map_err(draw_error)?;
        area.draw(&Text::new(truncate(name, 18), (30, y), normal.clone()))
            .map_err(draw_error)?;
    }
    Ok(())
}

fn cartesian(area: &Area, frame: Frame) -> Result<(), ChartError> {
    let (plot, side) = legend_area(area, &frame.legend);
    if let (Some(side), Some((title, entries))) = (&side, &frame.legend) {
        draw_legend(side, title, entries)?;
    }

    // Extent of the marks.
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, 0.0f64);
    let mut see = |x: f64, y: f64| {
        x_lo = x_lo.min(x);
        x_hi = x_hi.max(x);
        y_lo = y_lo.min(y);
        y_hi = y_hi.max(y);
    };
    match &frame.marks {
        Marks::Rects(rects) => rects.iter().for_each(|r| {
            see(r.0, r.2);
            see(r.1, r.3);
        }),
        Marks::Lines { series, .. } => series
            .iter()
            .flat_map(|(l, _)| l)
            .for_each(|p| see(p.0, p.1)),
        Marks::Dots(dots) => dots.iter().for_each(|d| see(d.0, d.1)),
    }
    if !x_lo.is_finite() {
        (x_lo, x_hi) = (0.0, 1.0);
    }
    if frame.scatter {
        // Scatter plots start at the data, not at zero (the spec says `zero: false`).
        (y_lo, y_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        if let Marks::Dots(dots) = &frame.marks {
            for d in dots {
                y_lo = y_lo.min(d.1);
                y_hi = y_hi.max(d.1);
            }
        }
        if !y_lo.is_finite() {
            (y_lo, y_hi) = (0.0, 1.0);
        }
    }

    let plot_width = plot.dim_in_pixel().0 as f64 - 90.0;
    let (y_lo, y_hi, y_ticks, y_step) = nice_ticks(y_lo, y_hi, 6);
    let y_labels: Vec<String> = y_ticks.iter().map(|v| format_number(*v, y_step)).collect();
    let y_label_width = y_labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(1) as f64;

    let (x_range, x_ticks, x_format, rotate): (Range<f64>, Vec<f64>, XFormat, bool) = match &frame
        .x_scale
    {
        XScale::Categories(names) => {
            let names: Vec<String> = names.iter().map(|n| truncate(n, MAX_LABEL_CHARS)).collect();
            let widest = names.iter().map(|n| n.chars().count()).max().unwrap_or(1) as f64;
            let n = names.len().max(1);
            let rotate = widest * CHAR_WIDTH + 10.0 > plot_width / n as f64;
            let slot = if rotate {
                16.0
            } else {
                widest * CHAR_WIDTH + 10.0
            };
            let every = ((n as f64 * slot / plot_width).ceil() as usize).max(1);
            let ticks = (0..names.len()).step_by(every).map(|i| i as f64).collect();
            let format = move |v: f64| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            };
            (-0.5..n as f64 - 0.5, ticks, Box::new(format), rotate)
        }
        XScale::Numbers => {
            let target = (plot_width / 80.0).clamp(2.0, 10.0) as usize;
            let (lo, hi, ticks, step) = nice_ticks(x_lo, x_hi, target);
            (
                lo..hi,
                ticks,
                Box::new(move |v| format_number(v, step)),
                false,
            )
        }
        XScale::Times => {
            let (lo, hi) = if x_hi > x_lo {
                (x_lo, x_hi)
            } else {
                (x_lo - 43_200_000.0, x_hi + 43_200_000.0)
            };
            let target = (plot_width / 80.0).clamp(2.0, 8.0) as usize;
            let (ticks, pattern) = time_ticks(lo, hi, target);
            (
                lo..hi,
                ticks,
                Box::new(move |v| millis_to_time(v).format(pattern).to_string()),
                false,
            )
        }
    };
    let x_label_height = if rotate {
        let widest = match &frame.x_scale {
            XScale::Categories(names) => names
                .iter()
                .map(|n| n.chars().count().min(MAX_LABEL_CHARS))
                .max()
                .unwrap_or(1),
            _ => 8,
        };
        (widest as f64 * CHAR_WIDTH) as u32 + 34
    } else {
        46
    };

    let x_ticks_drawn = x_ticks.clone();
    let mut chart = ChartBuilder::on(&plot)
        .margin_right(16)
        .margin_top(8)
        .x_label_area_size(x_label_height)
        .y_label_area_size((y_label_width * CHAR_WIDTH) as u32 + 36)
        .build_cartesian_2d(
            TickAxis::new(x_range, x_ticks.clone()),
            TickAxis::new(y_lo..y_hi, y_ticks),
        )
        .map_err(draw_error)?;
    let label_style = (FONT, 12).into_font().color(&TEXT);
    // Plotters centres x labels on their tick, so turned labels are drawn below instead.
    let format_x = |v: &f64| if rotate { String::new() } else { x_format(*v) };
    let format_y = |v: &f64| format_number(*v, y_step);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(truncate(&frame.x_title, 60))
        .y_desc(truncate(&frame.y_title, 40))
        .axis_desc_style((FONT, 13).into_font().style(FontStyle::Bold).color(&TEXT))
        .x_label_style(label_style)
        .y_label_style((FONT, 12).into_font().color(&TEXT))
        .x_label_formatter(&format_x)
        .y_label_formatter(&format_y)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .x_labels(1000)
        .y_labels(1000);
    if matches!(frame.x_scale, XScale::Categories(_)) {
        mesh.disable_x_mesh();
    }
    mesh.draw().map_err(draw_error)?;
    if rotate {
        let turned = (FONT, 12)
            .into_font()
            .color(&TEXT)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let (base_x, base_y) = plot.get_base_pixel();
        for &tick in &x_ticks_drawn {
            let (px, py) = chart.backend_coord(&(tick, y_lo));
            plot.draw(&Text::new(
                x_format(tick),
                (px - base_x, py - base_y + 6),
                turned.clone(),
            ))
            .map_err(draw_error)?;
        }
    }

    match frame.marks {
        Marks::Rects(rects) => {
            chart
                .draw_series(rects.into_iter().map(|(x0, x1, y0, y1, c)| {
                    let mut rect = Rectangle::new([(x0, y0), (x1, y1)], c.filled());
                    rect.set_margin(0, 0, 1, 1);
                    rect
                }))
                .map_err(draw_error)?;
        }
        Marks::Lines { series, area, dots } => {
            for (points, c) in series {
                if area {
                    let alpha = if frame.legend.is_some() { 0.45 } else { 0.75 };
                    chart
                        .draw_series(
                            AreaSeries::new(points.iter().copied(), 0.0, c.mix(alpha))
                                .border_style(c.stroke_width(2)),
                        )
                        .map_err(draw_error)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                        .map_err(draw_error)?;
                }
                if dots {
                    chart
                        .draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))
                        .map_err(draw_error)?;
                }
            }
        }
        Marks::Dots(dots) => {
            chart
                .draw_series(
                    dots.into_iter()
                        .map(|(x, y, c)| Circle::new((x, y), 4, c.mix(0.7).filled())),
                )
                .map_err(draw_error)?;
        }
    }
    Ok(())
}

/// A pie: slice sizes summed by category (negative and NULL sizes left out), colours by the
/// categories' sorted order as in Vega-Lite, a legend on the right.
fn pie(area: &Area, plan: &Plan, data: &ChartData) -> Result<(), ChartError> {
    let x = data.column(plan.x);
    let y = data.column(plan.y.expect("y of an arc chart"));
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    for (name, size) in x.text.iter().zip(&y.numbers) {
        let entry = sums.entry(name.as_str()).or_default();
        if let Some(size) = size.filter(|s| *s > 0.0) {
            *entry += size;
        }
    }
    let entries: Vec<(String, RGBColor)> = sums
        .keys()
        .enumerate()
        .map(|(i, name)| (name.to_string(), color(i)))
        .collect();
    let legend = Some((x.name.clone(), entries.clone()));
    let (plot, side) = legend_area(area, &legend);
    if let Some(side) = &side {
        draw_legend(side, &x.name, &entries)?;
    }
    let sizes: Vec<f64> = sums.values().copied().collect();
    let colors: Vec<RGBColor> = entries.iter().map(|(_, c)| *c).collect();
    let total: f64 = sizes.iter().sum();
    let labels: Vec<String> = sizes
        .iter()
        .map(|s| {
            if *s / total >= 0.04 {
                format!("{:.0}%", 100.0 * s / total)
            } else {
                String::new()
            }
        })
        .collect();
    let (w, h) = plot.dim_in_pixel();
    let center = (w as i32 / 2, h as i32 / 2);
    let radius = (w.min(h) as f64 / 2.0 - 24.0).max(20.0);
    let mut pie = Pie::new(&center, &radius, &sizes, &colors, &labels);
    pie.start_angle(-90.0);
    pie.label_style((FONT, 13).into_font().color(&TEXT));
    pie.label_offset(radius * 0.05);
    plot.draw(&pie).map_err(draw_error)?;
    Ok(())
}
