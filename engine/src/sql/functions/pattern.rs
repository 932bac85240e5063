//! Java `SimpleDateFormat` / `DateTimeFormatter` patterns, as Flink's date functions take them,
//! translated to chrono's strftime, plus the parsing Flink's string-to-timestamp functions do.

use std::str::FromStr;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{plan_datafusion_err, DataFusionError, Result};

/// Flink's default pattern for timestamps given as strings.
pub(crate) const DEFAULT_TIMESTAMP_PATTERN: &str = "yyyy-MM-dd HH:mm:ss";
/// Flink's default pattern for dates given as strings.
pub(crate) const DEFAULT_DATE_PATTERN: &str = "yyyy-MM-dd";

const SUPPORTED: &str = "y Y M L d D E u H h m s S a w Z X x z, 'quoted text' and '' for a quote";

/// Translates a date/time pattern to a chrono strftime string.
///
/// A pattern containing `%` is taken as chrono strftime already (DataFusion's convention), so
/// queries written for DataFusion's `to_timestamp`/`to_char` keep working; any other pattern
/// is Java's (`yyyy-MM-dd HH:mm:ss`). An unsupported letter is an error that names it.
pub(crate) fn to_strftime(pattern: &str) -> Result<String> {
    if pattern.contains('%') {
        // Validate now, so a bad pattern fails once with a clear message.
        StrftimeItems::new(pattern)
            .parse()
            .map_err(|_| invalid(pattern, "not a valid chrono strftime pattern".into()))?;
        return Ok(pattern.to_string());
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a literal quote; 'text' is literal text, in which '' is a quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let start = i;
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(invalid(
                            pattern,
                            format!("unterminated quote opened at position {}", start + 1),
                        ))
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        push_literal(&mut out, ch);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let spec = match (c, n) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('Y', 2) => "%g",
            ('Y', _) => "%G",
            ('M' | 'L', 1) => "%-m",
            ('M' | 'L', 2) => "%m",
            ('M' | 'L', 3) => "%b",
            ('M' | 'L', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('D', 1 | 2) => "%-j",
            ('D', _) => "%j",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('u', _) => "%u",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('S', _) => {
                return Err(invalid(
                    pattern,
                    format!("fraction of second 'S' must be repeated 3, 6 or 9 times, not {n}"),
                ))
            }
            ('a', _) => "%p",
            ('w', 1) => "%-V",
            ('w', _) => "%V",
            ('Z', _) | ('X' | 'x', 1 | 2) => "%z",
            ('X' | 'x', _) => "%:z",
            ('z', _) => "%Z",
            _ => {
                return Err(invalid(
                    pattern,
                    format!(
                        "unsupported pattern letter '{c}' at position {} (supported: {SUPPORTED})",
                        i + 1
                    ),
                ))
            }
        };
        out.push_str(spec);
        i += n;
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    match c {
        '%' => out.push_str("%%"),
        '\t' => out.push_str("%t"),
        '\n' => out.push_str("%n"),
        _ => out.push(c),
    }
}

fn invalid(pattern: &str, why: String) -> DataFusionError {
    plan_datafusion_err!("invalid date/time pattern '{pattern}': {why}")
}

/// Parses strings to date-times the way Flink's `TO_TIMESTAMP`, `TO_DATE` and
/// `UNIX_TIMESTAMP` do: with Flink's lenient default format, or a given pattern.
pub(crate) enum DateTimeParser {
    /// Flink's default: `yyyy-[M]M-[d]d[ [H]H:[m]m:[s]s[.fraction]]`. Eddy also takes a `T`
    /// between date and time.
    Default,
    /// A pattern, compiled to chrono items.
    Pattern(Vec<Item<'static>>),
}

impl DateTimeParser {
    /// A parser for `pattern`, or for Flink's default format when `None`.
    pub(crate) fn new(pattern: Option<&str>) -> Result<Self> {
        match pattern {
            None => Ok(Self::Default),
            Some(p) if p == DEFAULT_TIMESTAMP_PATTERN => Ok(Self::Default),
            Some(p) => {
                let strftime = to_strftime(p)?;
                let items = StrftimeItems::new(&strftime)
                    .parse_to_owned()
                    .map_err(|_| invalid(p, "not a valid pattern".into()))?;
                Ok(Self::Pattern(items))
            }
        }
    }

    /// The local date-time in `s` and the UTC offset (seconds) it names, if any; `None` when
    /// `s` does not match.
    pub(crate) fn parse(&self, s: &str) -> Option<(NaiveDateTime, Option<i32>)> {
        match self {
            Self::Default => parse_default(s).map(|dt| (dt, None)),
            Self::Pattern(items) => parse_items(s, items),
        }
    }
}

fn parse_items(s: &str, items: &[Item<'static>]) -> Option<(NaiveDateTime, Option<i32>)> {
    let mut p = Parsed::new();
    chrono::format::parse(&mut p, s, items.iter()).ok()?;
    // Java fills fields the pattern lacks from 1970-01-01 00:00:00.
    let has_date = p.year().is_some()
        || p.year_mod_100().is_some()
        || p.isoyear().is_some()
        || p.isoyear_mod_100().is_some();
    if !has_date {
        p.set_year(1970).ok()?;
    }
    if p.month().is_none()
        && p.ordinal().is_none()
        && p.isoweek().is_none()
        && p.week_from_sun().is_none()
        && p.week_from_mon().is_none()
    {
        p.set_month(1).ok()?;
    }
    if p.day().is_none() && p.month().is_some() {
        p.set_day(1).ok()?;
    }
    if p.hour_mod_12().is_none() {
        p.set_hour(0).ok()?;
    } else if p.hour_div_12().is_none() {
        p.set_ampm(false).ok()?;
    }
    if p.minute().is_none() {
        p.set_minute(0).ok()?;
    }
    if p.second().is_none() {
        p.set_second(0).ok()?;
    }
    let date = p.to_naive_date().ok()?;
    let time = p.to_naive_time().ok()?;
    Some((NaiveDateTime::new(date, time), p.offset()))
}

/// Flink's default string-to-timestamp format, as `DateTimeUtils` defines it:
/// `yyyy-[MM][M]-[dd][d]` then optionally ` [HH][H]:[mm][m]:[ss][s]` and a fraction of up to
/// nine digits.
fn parse_default(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let mut pos = 0;
    let year = digits(b, &mut pos, 4, 4)?;
    expect(b, &mut pos, b'-')?;
    let month = digits(b, &mut pos, 1, 2)?;
    expect(b, &mut pos, b'-')?;
    let day = digits(b, &mut pos, 1, 2)?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    if pos == b.len() {
        return Some(date.and_time(NaiveTime::MIN));
    }
    if b[pos] != b' ' && b[pos] != b'T' {
        return None;
    }
    pos += 1;
    let hour = digits(b, &mut pos, 1, 2)?;
    expect(b, &mut pos, b':')?;
    let minute = digits(b, &mut pos, 1, 2)?;
    expect(b, &mut pos, b':')?;
    let second = digits(b, &mut pos, 1, 2)?;
    let mut nanos = 0;
    if pos < b.len() {
        expect(b, &mut pos, b'.')?;
        let start = pos;
        let fraction = digits(b, &mut pos, 0, 9)?;
        nanos = fraction * 10u32.pow(9 - (pos - start) as u32);
    }
    if pos != b.len() {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(date.and_time(time))
}

fn digits(b: &[u8], pos: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *pos;
    let mut value = 0u32;
    while *pos < b.len() && *pos - start < max && b[*pos].is_ascii_digit() {
        value = value * 10 + u32::from(b[*pos] - b'0');
        *pos += 1;
    }
    (*pos - start >= min).then_some(value)
}

fn expect(b: &[u8], pos: &mut usize, c: u8) -> Option<()> {
    if b.get(*pos) == Some(&c) {
        *pos += 1;
        Some(())
    } else {
        None
    }
}

/// The session time zone (`datafusion.execution.time_zone`), UTC when unset.
pub(crate) fn session_time_zone(config: &ConfigOptions) -> Result<Option<Tz>> {
    match config.execution.time_zone.as_deref() {
        None | Some("") => Ok(None),
        Some(tz) => Tz::from_str(tz)
            .map(Some)
            .map_err(|e| plan_datafusion_err!("invalid session time zone '{tz}': {e}")),
    }
}

/// Seconds since the epoch of a local date-time: in `offset` when the string named one, else
/// in the session time zone `tz` (UTC when `None`). For a local time that occurs twice (DST),
/// the earlier; for one that does not occur, `None`.
pub(crate) fn epoch_seconds(
    local: NaiveDateTime,
    offset: Option<i32>,
    tz: Option<&Tz>,
) -> Option<i64> {
    match (offset, tz) {
        (Some(offset), _) => Some(local.and_utc().timestamp() - i64::from(offset)),
        (None, Some(tz)) => tz
            .from_local_datetime(&local)
            .earliest()
            .map(|dt| dt.timestamp()),
        (None, None) => Some(local.and_utc().timestamp()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_java_patterns() {
        assert_eq!(
            to_strftime("yyyy-MM-dd HH:mm:ss").unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(
            to_strftime("yy/M/d H:m:s.SSS").unwrap(),
            "%y/%-m/%-d %-H:%-M:%-S.%3f"
        );
        assert_eq!(to_strftime("EEE, dd MMM yyyy").unwrap(), "%a, %d %b %Y");
        assert_eq!(to_strftime("EEEE MMMM hh a").unwrap(), "%A %B %I %p");
        assert_eq!(
            to_strftime("yyyy'T'HH 'o''clock' ''").unwrap(),
            "%YT%H o'clock '"
        );
        assert_eq!(to_strftime("%Y-%m").unwrap(), "%Y-%m");
    }

    #[test]
    fn names_the_bad_letter() {
        let e = to_strftime("yyyy-MM-dd QQ").unwrap_err().to_string();
        assert!(
            e.contains("unsupported pattern letter 'Q' at position 12"),
            "{e}"
        );
        let e = to_strftime("HH:mm:ss.SS").unwrap_err().to_string();
        assert!(
            e.contains("'S' must be repeated 3, 6 or 9 times, not 2"),
            "{e}"
        );
        let e = to_strftime("yyyy 'at").unwrap_err().to_string();
        assert!(e.contains("unterminated quote"), "{e}");
        let e = to_strftime("%Y-%Q").unwrap_err().to_string();
        assert!(e.contains("chrono"), "{e}");
    }

    #[test]
    fn parses_flink_default_format() {
        let p = DateTimeParser::new(None).unwrap();
        let dt = |s| p.parse(s).map(|(dt, _)| dt.to_string());
        assert_eq!(dt("2024-01-05 10:11:12").unwrap(), "2024-01-05 10:11:12");
        assert_eq!(dt("2024-1-5 1:2:3.45").unwrap(), "2024-01-05 01:02:03.450");
        assert_eq!(dt("2024-01-05").unwrap(), "2024-01-05 00:00:00");
        assert_eq!(dt("2024-01-05T10:11:12").unwrap(), "2024-01-05 10:11:12");
        assert_eq!(dt("2024-02-30 00:00:00"), None);
        assert_eq!(dt("2024-01-05 10:11"), None);
        assert_eq!(dt("nope"), None);
    }

    #[test]
    fn parses_patterns_with_defaults() {
        let p = DateTimeParser::new(Some("dd/MM/yyyy")).unwrap();
        assert_eq!(
            p.parse("05/01/2024").unwrap().0.to_string(),
            "2024-01-05 00:00:00"
        );
        let p = DateTimeParser::new(Some("HH:mm")).unwrap();
        assert_eq!(
            p.parse("10:30").unwrap().0.to_string(),
            "1970-01-01 10:30:00"
        );
        let p = DateTimeParser::new(Some("yyyyMMddHHmmss")).unwrap();
        assert_eq!(
            p.parse("20240105101112").unwrap().0.to_string(),
            "2024-01-05 10:11:12"
        );
        let p = DateTimeParser::new(Some("yyyy-MM-dd HH:mm:ss XXX")).unwrap();
        assert_eq!(p.parse("2024-01-05 10:00:00 +02:00").unwrap().1, Some(7200));
    }
}
