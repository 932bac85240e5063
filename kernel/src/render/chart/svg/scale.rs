//! Scales: "nice" ticks and histogram bins (as Vega-Lite picks them), tick labels for numbers
//! and times, and an axis that keeps exactly the ticks chosen.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::Ranged;
use std::ops::Range;

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
pub(super) fn nice_step(raw: f64) -> f64 {
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
pub(super) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>, f64) {
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
pub(super) fn format_number(value: f64, step: f64) -> String {
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

pub(super) fn decimals(step: f64) -> usize {
    if step >= 1.0 || step <= 0.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize + 1).min(10)
    }
}

pub(super) fn trim(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

pub(super) fn truncate(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut short: String = label.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

pub(super) fn millis_to_time(ms: f64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .naive_utc()
}

/// Time ticks on calendar boundaries (years, months, days) or round intervals, and how to
/// write them.
pub(super) fn time_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, &'static str) {
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
pub(super) struct TickAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl TickAxis {
    pub(super) fn new(range: Range<f64>, ticks: Vec<f64>) -> TickAxis {
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
