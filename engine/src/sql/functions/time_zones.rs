//! Flink's `CONVERT_TZ(text, fromZone, toZone)`: a `yyyy-MM-dd HH:mm:ss` time read in one
//! time zone and written in another (`CONVERT_TZ('1970-01-01 00:00:00', 'UTC',
//! 'America/Los_Angeles')` is `'1969-12-31 16:00:00'`). Zones are named as Java names them:
//! a region (`Europe/Paris`), a custom offset (`GMT-08:00`, `UTC+5`), or one of Java's
//! three-letter short IDs (`PST`, `CTT`, `EST`). Where Java falls back to GMT for a name it
//! does not know, Eddy fails naming it; a text that is not such a time gives NULL, as in Flink.

use super::{argument_arrays, is_string, result_value, type_list};
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use std::sync::Arc;

pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(ConvertTzFunc::new())]
}

const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Java's `ZoneId.SHORT_IDS`, the three-letter names `TimeZone.getTimeZone` takes. EST, MST
/// and HST are fixed offsets there.
const SHORT_IDS: &[(&str, &str)] = &[
    ("ACT", "Australia/Darwin"),
    ("AET", "Australia/Sydney"),
    ("AGT", "America/Argentina/Buenos_Aires"),
    ("ART", "Africa/Cairo"),
    ("AST", "America/Anchorage"),
    ("BET", "America/Sao_Paulo"),
    ("BST", "Asia/Dhaka"),
    ("CAT", "Africa/Harare"),
    ("CNT", "America/St_Johns"),
    ("CST", "America/Chicago"),
    ("CTT", "Asia/Shanghai"),
    ("EAT", "Africa/Addis_Ababa"),
    ("ECT", "Europe/Paris"),
    ("EST", "-05:00"),
    ("HST", "-10:00"),
    ("IET", "America/Indiana/Indianapolis"),
    ("IST", "Asia/Kolkata"),
    ("JST", "Asia/Tokyo"),
    ("MIT", "Pacific/Apia"),
    ("MST", "-07:00"),
    ("NET", "Asia/Yerevan"),
    ("NST", "Pacific/Auckland"),
    ("PLT", "Asia/Karachi"),
    ("PNT", "America/Phoenix"),
    ("PRT", "America/Puerto_Rico"),
    ("PST", "America/Los_Angeles"),
    ("SST", "Pacific/Guadalcanal"),
    ("VST", "Asia/Ho_Chi_Minh"),
];

/// A time zone as Java reads its name.
#[derive(Debug, Clone, Copy)]
enum Zone {
    Region(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        if let Some((_, target)) = SHORT_IDS.iter().find(|(id, _)| *id == name) {
            return Zone::parse_target(target);
        }
        if let Some(zone) = custom_offset(name) {
            return Some(Zone::Fixed(zone));
        }
        name.parse::<Tz>().ok().map(Zone::Region)
    }

    fn parse_target(target: &str) -> Option<Zone> {
        match target.strip_prefix('-') {
            Some(_) => custom_offset(&format!("GMT{target}")).map(Zone::Fixed),
            None => target.parse::<Tz>().ok().map(Zone::Region),
        }
    }

    /// The instant a wall-clock time in this zone is. In a gap (clocks set forward) the time
    /// moves forward by the gap, and in an overlap the earlier instant is taken, as Java does.
    fn instant(self, local: NaiveDateTime) -> DateTime<Utc> {
        fn resolve<Z: TimeZone>(zone: &Z, local: NaiveDateTime) -> DateTime<Utc> {
            match zone.from_local_datetime(&local).earliest() {
                Some(time) => time.with_timezone(&Utc),
                None => {
                    let before = zone
                        .offset_from_utc_datetime(&(local - Duration::days(1)))
                        .fix();
                    DateTime::from_naive_utc_and_offset(local - before, Utc)
                }
            }
        }
        match self {
            Zone::Region(tz) => resolve(&tz, local),
            Zone::Fixed(offset) => resolve(&offset, local),
        }
    }

    fn wall_clock(self, instant: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Region(tz) => instant.with_timezone(&tz).naive_local(),
            Zone::Fixed(offset) => instant.with_timezone(&offset).naive_local(),
        }
    }
}

/// `GMT`, `UTC`, `GMT+8`, `GMT-08:00`, `UTC+05:30`: Java's custom zone IDs.
fn custom_offset(name: &str) -> Option<FixedOffset> {
    let rest = name
        .strip_prefix("GMT")
        .or_else(|| name.strip_prefix("UTC"))?;
    if rest.is_empty() {
        return FixedOffset::east_opt(0);
    }
    let (sign, digits) = match rest.split_at(1) {
        ("+", digits) => (1, digits),
        ("-", digits) => (-1, digits),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if digits.len() <= 2 => (digits.parse::<i32>().ok()?, 0),
        None if digits.len() == 4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        None => return None,
    };
    if hours > 18 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ConvertTzFunc {
    signature: Signature,
    doc: Documentation,
}

impl ConvertTzFunc {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: Documentation::builder(
                DOC_SECTION_DATETIME,
                "Reads `text`, a 'yyyy-MM-dd HH:mm:ss' time, in the time zone `fromZone` and \
                 writes it in `toZone` (Flink's `CONVERT_TZ`). Zones are regions \
                 ('America/Los_Angeles'), offsets ('GMT-08:00') or Java's short IDs ('PST'). \
                 NULL when `text` is not such a time or an argument is NULL.",
                "convert_tz(text, fromZone, toZone)",
            )
            .with_sql_example(
                "```sql\n> SELECT CONVERT_TZ('1970-01-01 00:00:00', 'UTC', 'America/Los_Angeles');\n1969-12-31 16:00:00\n```",
            )
            .with_argument("text", "A time written 'yyyy-MM-dd HH:mm:ss'.")
            .with_argument("fromZone", "The zone `text` is a wall-clock time in.")
            .with_argument("toZone", "The zone to write the time in.")
            .build(),
        }
    }
}

impl ScalarUDFImpl for ConvertTzFunc {
    fn name(&self) -> &str {
        "convert_tz"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t, f, z] if is_string(t) && is_string(f) && is_string(z) => {
                Ok(vec![DataType::Utf8; 3])
            }
            _ => plan_err!(
                "CONVERT_TZ() takes (text, fromZone, toZone), all strings; got ({})",
                type_list(arg_types)
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, constant) = argument_arrays(&args)?;
        let [texts, from, to] = arrays.as_slice() else {
            return exec_err!("CONVERT_TZ() takes three arguments");
        };
        let (texts, from, to) = (
            texts.as_string::<i32>(),
            from.as_string::<i32>(),
            to.as_string::<i32>(),
        );
        let mut builder = StringBuilder::with_capacity(texts.len(), texts.len() * 19);
        // Zones usually repeat row after row: the last pair read is kept.
        let mut last: Option<((String, String), (Zone, Zone))> = None;
        for row in 0..texts.len() {
            if texts.is_null(row) || from.is_null(row) || to.is_null(row) {
                builder.append_null();
                continue;
            }
            let names = (from.value(row), to.value(row));
            let zones = match &last {
                Some(((f, t), zones)) if f == names.0 && t == names.1 => *zones,
                _ => {
                    let zones = (zone(names.0)?, zone(names.1)?);
                    last = Some(((names.0.to_string(), names.1.to_string()), zones));
                    zones
                }
            };
            let converted = NaiveDateTime::parse_from_str(texts.value(row).trim(), FORMAT)
                .ok()
                .map(|local| {
                    zones
                        .1
                        .wall_clock(zones.0.instant(local))
                        .format(FORMAT)
                        .to_string()
                });
            builder.append_option(converted);
        }
        result_value(Arc::new(builder.finish()), constant)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

fn zone(name: &str) -> Result<Zone> {
    match Zone::parse(name) {
        Some(zone) => Ok(zone),
        None => exec_err!(
            "CONVERT_TZ() does not know the time zone '{name}'; name a region \
             ('Europe/Paris'), an offset ('GMT+01:00') or a short ID ('PST')"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, one};

    #[tokio::test]
    async fn convert_tz_moves_a_wall_clock_time_between_zones() {
        for (sql, expected) in [
            (
                "SELECT CONVERT_TZ('1970-01-01 00:00:00', 'UTC', 'America/Los_Angeles')",
                "1969-12-31 16:00:00",
            ),
            (
                "SELECT CONVERT_TZ('2024-07-01 12:00:00', 'PST', 'CTT')",
                "2024-07-02 03:00:00",
            ),
            (
                "SELECT CONVERT_TZ('2024-01-01 12:00:00', 'GMT-08:00', 'UTC+5')",
                "2024-01-02 01:00:00",
            ),
            (
                "SELECT CONVERT_TZ('2024-01-01 12:00:00', 'EST', 'Europe/Paris')",
                "2024-01-01 18:00:00",
            ),
            // 02:30 does not exist in Paris on 2024-03-31: Java moves it forward by the gap.
            (
                "SELECT CONVERT_TZ('2024-03-31 02:30:00', 'Europe/Paris', 'UTC')",
                "2024-03-31 01:30:00",
            ),
            // 02:30 happens twice on 2024-10-27: the earlier is taken.
            (
                "SELECT CONVERT_TZ('2024-10-27 02:30:00', 'Europe/Paris', 'UTC')",
                "2024-10-27 00:30:00",
            ),
            ("SELECT CONVERT_TZ('not a time', 'UTC', 'PST')", "NULL"),
            ("SELECT CONVERT_TZ(NULL, 'UTC', 'PST')", "NULL"),
        ] {
            assert_eq!(one(sql).await, expected, "{sql}");
        }
        let message =
            error("SELECT CONVERT_TZ('2024-01-01 00:00:00', 'UTC', 'Mars/Olympus')").await;
        assert!(
            message.contains("does not know the time zone 'Mars/Olympus'"),
            "{message}"
        );
    }
}
