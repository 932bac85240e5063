//! The arc chart: a pie with a legend.

use super::{color, draw_error, draw_legend, legend_area, Area, FONT, TEXT};
use crate::render::chart::data::ChartData;
use crate::render::chart::{ChartError, Plan};
use plotters::prelude::*;
use std::collections::BTreeMap;

/// A pie: slice sizes summed by category (negative and NULL sizes left out), colours by the
/// categories' sorted order as in Vega-Lite, a legend on the right.
pub(super) fn pie(area: &Area, plan: &Plan, data: &ChartData) -> Result<(), ChartError> {
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
