//! Dates (proleptic Gregorian, after Howard Hinnant's `days_from_civil`).

pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

pub(crate) fn put2(out: &mut [u8], v: i64) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(day: i64, out: &mut [u8; 10]) {
    let (y, m, d) = civil_from_days(day);
    put2(&mut out[0..2], y / 100);
    put2(&mut out[2..4], y % 100);
    out[4] = b'-';
    put2(&mut out[5..7], m);
    out[7] = b'-';
    put2(&mut out[8..10], d);
}

/// `YYYY-MM-DD HH:MM:SS` from seconds since 1970-01-01 00:00:00 UTC.
pub(crate) fn format_timestamp(secs: i64, out: &mut [u8; 19]) {
    let (day, s) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let mut date = [0u8; 10];
    format_date(day, &mut date);
    out[..10].copy_from_slice(&date);
    out[10] = b' ';
    put2(&mut out[11..13], s / 3600);
    out[13] = b':';
    put2(&mut out[14..16], s / 60 % 60);
    out[16] = b':';
    put2(&mut out[17..19], s % 60);
}
