//! The Vega-Lite v4 spec, built with the `vega_lite_4` crate.

use super::data::{ChartData, ColumnData, FieldKind};
use super::svg::Bins;
use super::{ChartError, ChartKind, Plan, Texts};
use serde_json::Value;
use vega_lite_4::{
    AnyMark, Aria, BinExtent, BinParamsBuilder, ColorClassBuilder, DefBuilder, DescriptionBin,
    EdEncodingBuilder, EncodingTooltip, LegendText, Line, Mark, NonArgAggregateOp, PointUnion,
    RemovableValue, Scale, ScaleBuilder, Stack, StandardType, StringFieldDef,
    StringFieldDefBuilder, ThetaClassBuilder, Type, VegaliteBuilder, XClassBuilder, YClassBuilder,
};

/// Lines get a dot on each point (which carries the tooltip) up to this many rows.
const MAX_LINE_POINTS: usize = 200;
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 300.0;

fn build_error(error: impl std::fmt::Display) -> ChartError {
    ChartError::Render(format!("Vega-Lite spec: {error}"))
}

/// A field reference: Vega-Lite reads `.` and `[]` in a field name as nested access.
fn field_ref(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '.' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// How x is encoded: a bar chart's x is always discrete.
fn x_type(kind: ChartKind, column: &ColumnData) -> Type {
    match (kind, column.kind) {
        (ChartKind::Bar, FieldKind::Nominal) => Type::Nominal,
        (ChartKind::Bar, _) => Type::Ordinal,
        (_, FieldKind::Quantitative) => Type::Quantitative,
        (_, FieldKind::Temporal) => Type::Temporal,
        (_, FieldKind::Nominal) => Type::Nominal,
    }
}

fn standard(t: &Type) -> StandardType {
    match t {
        Type::Quantitative => StandardType::Quantitative,
        Type::Temporal => StandardType::Temporal,
        Type::Ordinal => StandardType::Ordinal,
        _ => StandardType::Nominal,
    }
}

fn tooltip(name: &str, t: &Type) -> Result<StringFieldDef, ChartError> {
    StringFieldDefBuilder::default()
        .field(field_ref(name))
        .string_field_def_type(standard(t))
        .build()
        .map_err(build_error)
}

fn no_zero() -> Result<Scale, ChartError> {
    ScaleBuilder::default()
        .zero(Aria::Bool(false))
        .build()
        .map_err(build_error)
}

pub fn vega_lite(
    plan: &Plan,
    data: &ChartData,
    text: &Texts,
    title: Option<&str>,
) -> Result<Value, ChartError> {
    let x = data.column(plan.x);
    let color = plan.color.map(|c| data.column(c));
    let mut encoding = EdEncodingBuilder::default();
    let mut tooltips = Vec::new();
    let mut mark = DefBuilder::default();
    mark.tooltip(true);

    match plan.kind {
        ChartKind::Arc => {
            let y = data.column(plan.y.expect("y of an arc chart"));
            encoding.theta(
                ThetaClassBuilder::default()
                    .field(field_ref(&y.name))
                    .polar_def_type(Type::Quantitative)
                    .build()
                    .map_err(build_error)?,
            );
            let x_kind = if x.kind == FieldKind::Nominal {
                Type::Nominal
            } else {
                Type::Ordinal
            };
            encoding.color(
                ColorClassBuilder::default()
                    .field(field_ref(&x.name))
                    .mark_prop_def_gradient_string_null_type(x_kind.clone())
                    .build()
                    .map_err(build_error)?,
            );
            tooltips.push(tooltip(&x.name, &x_kind)?);
            tooltips.push(tooltip(&y.name, &Type::Quantitative)?);
        }
        ChartKind::Histogram => {
            let bins = Bins::of(&x.numbers);
            let bin = BinParamsBuilder::default()
                .extent(BinExtent::DoubleArray(vec![bins.start, bins.end()]))
                .step(bins.step)
                .build()
                .map_err(build_error)?;
            encoding.x(XClassBuilder::default()
                .field(field_ref(&x.name))
                .bin(DescriptionBin::BinParams(bin.clone()))
                .position_def_type(Type::Quantitative)
                .title(LegendText::String(x.name.clone()))
                .build()
                .map_err(build_error)?);
            encoding.y(YClassBuilder::default()
                .aggregate(NonArgAggregateOp::Count)
                .position_def_type(Type::Quantitative)
                .title("count")
                .build()
                .map_err(build_error)?);
            tooltips.push(
                StringFieldDefBuilder::default()
                    .field(field_ref(&x.name))
                    .bin(DescriptionBin::BinParams(bin))
                    .string_field_def_type(StandardType::Quantitative)
                    .title(LegendText::String(x.name.clone()))
                    .build()
                    .map_err(build_error)?,
            );
            tooltips.push(
                StringFieldDefBuilder::default()
                    .aggregate(NonArgAggregateOp::Count)
                    .string_field_def_type(StandardType::Quantitative)
                    .title("count")
                    .build()
                    .map_err(build_error)?,
            );
        }
        kind => {
            let y = data.column(plan.y.expect("y of a cartesian chart"));
            let x_kind = x_type(kind, x);
            let mut x_encoding = XClassBuilder::default();
            x_encoding
                .field(field_ref(&x.name))
                .position_def_type(x_kind.clone());
            if matches!(x_kind, Type::Nominal | Type::Ordinal) {
                // Keep the query's order (its ORDER BY) rather than sorting the categories.
                x_encoding.sort(RemovableValue::Remove);
            }
            if kind == ChartKind::Point {
                // A scatter plot shows where its points are, not how far from zero.
                x_encoding.scale(no_zero()?);
            }
            encoding.x(x_encoding.build().map_err(build_error)?);
            let mut y_encoding = YClassBuilder::default();
            y_encoding
                .field(field_ref(&y.name))
                .position_def_type(Type::Quantitative);
            if kind == ChartKind::Point {
                y_encoding.scale(no_zero()?);
            }
            if kind == ChartKind::Area && color.is_some() {
                // Overlapping series, as the SVG draws them, rather than stacked.
                y_encoding.stack(Stack::Bool(false));
            }
            encoding.y(y_encoding.build().map_err(build_error)?);
            tooltips.push(tooltip(&x.name, &x_kind)?);
            tooltips.push(tooltip(&y.name, &Type::Quantitative)?);
            match kind {
                ChartKind::Line if data.rows <= MAX_LINE_POINTS => {
                    mark.point(PointUnion::Bool(true));
                }
                ChartKind::Area => {
                    mark.opacity(if color.is_some() { 0.45 } else { 0.75 });
                    mark.line(Line::Bool(true));
                }
                ChartKind::Point => {
                    mark.filled(true);
                    mark.opacity(0.7);
                }
                _ => {}
            }
        }
    }

    if let Some(color) = color {
        encoding.color(
            ColorClassBuilder::default()
                .field(field_ref(&color.name))
                .mark_prop_def_gradient_string_null_type(Type::Nominal)
                .build()
                .map_err(build_error)?,
        );
        tooltips.push(tooltip(&color.name, &Type::Nominal)?);
    }
    encoding.tooltip(EncodingTooltip::StringFieldDefArray(tooltips));

    let mark_type = match plan.kind {
        ChartKind::Bar | ChartKind::Histogram => Mark::Bar,
        ChartKind::Line => Mark::Line,
        ChartKind::Area => Mark::Area,
        ChartKind::Point => Mark::Point,
        ChartKind::Arc => Mark::Arc,
        ChartKind::Auto => unreachable!("planned charts have a kind"),
    };
    mark.def_type(mark_type);

    let mut chart = VegaliteBuilder::default();
    chart
        .schema("https://vega.github.io/schema/vega-lite/v4.json")
        .description(text.description.clone())
        .data(&data.records())
        .mark(AnyMark::Def(mark.build().map_err(build_error)?))
        .encoding(encoding.build().map_err(build_error)?);
    if plan.kind == ChartKind::Arc {
        chart.width(HEIGHT).height(HEIGHT);
    } else {
        chart.width(WIDTH).height(HEIGHT);
    }
    if let Some(title) = title {
        chart.title(title.to_string());
    }
    let chart = chart.build().map_err(build_error)?;
    serde_json::to_value(&chart).map_err(build_error)
}
