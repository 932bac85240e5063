//! Calendar parts of dates and of timestamps without a time zone, by integer arithmetic.
//!
//! Arrow's `date_part` makes a chrono date-time of each value and asks it for the part;
//! `GROUP BY YEAR(ts), MONTH(ts)` over 15 M rows spent most of its time there. Without a
//! zone, a timestamp's day is its value divided by the units in a day, and the proleptic
//! Gregorian year, month and day of a day number follow from a few divisions (the
//! "days from civil" inverse, as in Howard Hinnant's `chrono`-compatible date algorithms).
//! Times with a zone, and parts other than these, go to Arrow's kernel.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, PrimitiveArray};
use datafusion::arrow::compute::kernels::temporal::DatePart;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use std::sync::Arc;

const SECONDS_PER_DAY: i64 = 86_400;

/// `part` of each value of `array` as BIGINT, or `None` when this module does not compute
/// it (a zone, another type or another part).
pub(super) fn part_without_zone(array: &ArrayRef, part: DatePart) -> Option<ArrayRef> {
    if !matches!(
        part,
        DatePart::Year
            | DatePart::Quarter
            | DatePart::Month
            | DatePart::Day
            | DatePart::Hour
            | DatePart::Minute
            | DatePart::Second
    ) {
        return None;
    }
    let parts = match array.data_type() {
        DataType::Timestamp(_, Some(_)) => return None,
        DataType::Timestamp(TimeUnit::Second, None) => of::<TimestampSecondType>(array, 1, part),
        DataType::Timestamp(TimeUnit::Millisecond, None) => {
            of::<TimestampMillisecondType>(array, 1_000, part)
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            of::<TimestampMicrosecondType>(array, 1_000_000, part)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, None) => {
            of::<TimestampNanosecondType>(array, 1_000_000_000, part)
        }
        DataType::Date64 => of::<Date64Type>(array, 1_000, part),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>();
            days.unary::<_, datafusion::arrow::datatypes::Int64Type>(|day| {
                of_day(day as i64, 0, part)
            })
        }
        _ => return None,
    };
    Some(Arc::new(parts) as ArrayRef)
}

/// `part` of values counting `per_second` units from the epoch.
fn of<T>(array: &ArrayRef, per_second: i64, part: DatePart) -> Int64Array
where
    T: ArrowPrimitiveType<Native = i64>,
{
    let values: &PrimitiveArray<T> = array.as_primitive::<T>();
    let per_day = per_second * SECONDS_PER_DAY;
    values.unary(|value| {
        let day = value.div_euclid(per_day);
        let second_of_day = value.rem_euclid(per_day) / per_second;
        of_day(day, second_of_day, part)
    })
}

/// `part` of the moment `second_of_day` seconds into day `day` (days from 1970-01-01).
fn of_day(day: i64, second_of_day: i64, part: DatePart) -> i64 {
    match part {
        DatePart::Hour => second_of_day / 3_600,
        DatePart::Minute => second_of_day / 60 % 60,
        DatePart::Second => second_of_day % 60,
        _ => {
            let (year, month, day_of_month) = civil(day);
            match part {
                DatePart::Year => year,
                DatePart::Quarter => (month + 2) / 3,
                DatePart::Month => month,
                _ => day_of_month,
            }
        }
    }
}

/// The (year, month, day) of day `day` from 1970-01-01 in the proleptic Gregorian calendar.
/// Days are counted in 400-year eras that start on March 1st, so that the leap day is each
/// year's last.
fn civil(day: i64) -> (i64, i64, i64) {
    let z = day + 719_468; // days from 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
    let day_of_month = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day_of_month)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::TimestampMillisecondArray;
    use datafusion::arrow::compute::kernels::cast::cast;
    use datafusion::arrow::compute::kernels::temporal::date_part;

    /// Arrow's kernel, the reference.
    fn arrow_part(array: &ArrayRef, part: DatePart) -> Int64Array {
        let parts = date_part(array, part).unwrap();
        cast(&parts, &DataType::Int64)
            .unwrap()
            .as_primitive()
            .clone()
    }

    #[test]
    fn every_part_agrees_with_arrow_across_centuries_leap_days_and_the_epoch() {
        // Times from 1600 to 2400, a step that is prime in milliseconds, and the edges of
        // days, months, leap days and the epoch.
        let mut times: Vec<Option<i64>> = (0..200_000i64)
            .map(|i| Some(-11_676_096_000_000 + i * 126_230_417))
            .collect();
        for edge in [
            0,
            -1,
            1,
            951_782_400_000 - 1, // 2000-02-29 starts
            951_782_400_000,
            951_868_800_000 - 1, // 2000-03-01 starts
            951_868_800_000,
            -2_203_891_200_000, // 1900-03-01
            4_107_542_400_000,  // 2100-03-01
        ] {
            times.push(Some(edge));
        }
        times.push(None);
        let array: ArrayRef = Arc::new(TimestampMillisecondArray::from(times));
        for part in [
            DatePart::Year,
            DatePart::Quarter,
            DatePart::Month,
            DatePart::Day,
            DatePart::Hour,
            DatePart::Minute,
            DatePart::Second,
        ] {
            let ours = part_without_zone(&array, part).expect("computed here");
            assert_eq!(
                ours.as_primitive::<datafusion::arrow::datatypes::Int64Type>(),
                &arrow_part(&array, part),
                "{part:?}"
            );
        }
        // Nanoseconds reach 1677 to 2262 only.
        let recent: ArrayRef = Arc::new(
            array
                .as_primitive::<TimestampMillisecondType>()
                .iter()
                .filter(|t| t.is_none_or(|t| (-8_000_000_000_000..7_000_000_000_000).contains(&t)))
                .collect::<TimestampMillisecondArray>(),
        );
        for unit in [
            TimeUnit::Second,
            TimeUnit::Microsecond,
            TimeUnit::Nanosecond,
        ] {
            let other = cast(&recent, &DataType::Timestamp(unit, None)).unwrap();
            let ours = part_without_zone(&other, DatePart::Month).unwrap();
            assert_eq!(
                ours.as_primitive::<datafusion::arrow::datatypes::Int64Type>(),
                &arrow_part(&other, DatePart::Month),
                "{unit:?}"
            );
        }
        let dates = cast(&array, &DataType::Date32).unwrap();
        let ours = part_without_zone(&dates, DatePart::Day).unwrap();
        assert_eq!(
            ours.as_primitive::<datafusion::arrow::datatypes::Int64Type>(),
            &arrow_part(&dates, DatePart::Day)
        );
    }

    #[test]
    fn zones_and_other_parts_are_left_to_arrow() {
        let array: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![0]).with_timezone("+02:00"));
        assert!(part_without_zone(&array, DatePart::Year).is_none());
        let plain: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![0]));
        assert!(part_without_zone(&plain, DatePart::Week).is_none());
    }
}
