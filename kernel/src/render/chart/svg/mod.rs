//! The chart as a static SVG, drawn with `plotters`, for viewers that run no JavaScript.
//! Colours, bins, stacking and category order follow what Vega-Lite draws from the spec.

mod pie;
mod scale;

pub use scale::Bins;

use super::data::{ChartData, FieldKind};
use super::{ChartError, ChartKind, Plan, Texts};
use pie::pie;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use scale::{format_number, millis_to_time, nice_ticks, time_ticks, truncate, TickAxis};
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
