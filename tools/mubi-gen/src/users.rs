//! The rating users: their numbering by id and by activity, and the users file.

use std::io::{self, Write};

use csv::ByteRecord;
use rand::Rng;

use crate::dates::format_date;
use crate::{hash, stream, unit, Counts, END_DAY, FIRST_DAY, USER_COLUMNS};

/// Users are numbered twice: by `pos`, their place in user-id order (the users file is
/// written in that order), and by `rank`, their place by activity (rank 0 rates most). A
/// multiplicative permutation maps one to the other, so heavy raters are spread over ids.
pub struct Users {
    pub(crate) seed: u64,
    pub(crate) count: u64,
    /// pos = rank * mult mod count, rank = pos * inverse mod count.
    pub(crate) mult: u64,
    pub(crate) inverse: u64,
    /// Rating days of the user of each rank.
    pub(crate) days_by_rank: Vec<u32>,
}

/// Ratings pick the user of rank `count * u^ACTIVITY_SKEW` for uniform `u`.
pub(crate) const ACTIVITY_SKEW: f64 = 1.8;

impl Users {
    pub(crate) fn new(counts: Counts, seed: u64) -> Users {
        let count = counts.users;
        let mut mult = (count as f64 * 0.618_033_988_75) as u64 | 1;
        while gcd(mult, count) != 1 {
            mult += 2;
        }
        let mult = mult % count.max(1);
        let inverse = mod_inverse(mult, count);

        // Each user rated on at least one day; the other days go to users by their activity
        // (the expected number of their ratings, to the power 0.7), rounded so that the
        // total is exact.
        let max_days = (END_DAY - FIRST_DAY) as f64;
        let share = |rank: u64| {
            let p = |r: u64| (r as f64 / count as f64).powf(1.0 / ACTIVITY_SKEW);
            (p(rank + 1) - p(rank)).powf(0.7)
        };
        let total_share: f64 = (0..count).map(share).sum();
        let extra = (counts.user_rows - count) as f64;
        let mut days_by_rank = Vec::with_capacity(count as usize);
        let mut running = 0.0;
        let mut given = 0u64;
        for rank in 0..count {
            running += extra * share(rank) / total_share;
            let upto = (running.round() as u64).min(counts.user_rows - count);
            let days = (1 + upto - given).min(max_days as u64);
            given = upto;
            days_by_rank.push(days as u32);
        }
        Users {
            seed,
            count,
            mult,
            inverse,
            days_by_rank,
        }
    }

    pub(crate) fn pos_of_rank(&self, rank: u64) -> u64 {
        ((rank as u128 * self.mult as u128) % self.count as u128) as u64
    }

    pub(crate) fn rank_of_pos(&self, pos: u64) -> u64 {
        ((pos as u128 * self.inverse as u128) % self.count as u128) as u64
    }

    /// User ids are large and sparse, as MUBI's are (up to about 99 million at scale 1).
    pub(crate) fn id(&self, pos: u64) -> u64 {
        100 + pos * 219 + hash(self.seed, 3, pos) % 219
    }

    pub(crate) fn flags(&self, pos: u64) -> UserFlags {
        let h = hash(self.seed, 4, pos);
        let trialist = unit(h) < 0.12;
        let subscriber = unit(hash(self.seed, 5, pos)) < 0.22;
        let payment = unit(hash(self.seed, 6, pos)) < if subscriber { 0.9 } else { 0.15 };
        let eligible =
            unit(hash(self.seed, 7, pos)) < if subscriber || trialist { 0.05 } else { 0.85 };
        UserFlags {
            trialist,
            subscriber,
            eligible,
            payment,
        }
    }

    pub(crate) fn pick<R: Rng>(&self, rng: &mut R) -> u64 {
        let rank = (self.count as f64 * rng.random::<f64>().powf(ACTIVITY_SKEW)) as u64;
        self.pos_of_rank(rank.min(self.count - 1))
    }
}

#[derive(Clone, Copy)]
pub(crate) struct UserFlags {
    pub(crate) trialist: bool,
    pub(crate) subscriber: bool,
    pub(crate) eligible: bool,
    pub(crate) payment: bool,
}

pub(crate) fn bit(b: bool) -> &'static [u8] {
    if b {
        b"1"
    } else {
        b"0"
    }
}

pub(crate) fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

pub(crate) fn mod_inverse(a: u64, m: u64) -> u64 {
    if m <= 1 {
        return 0;
    }
    let (mut old_r, mut r) = (a as i128, m as i128);
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    old_s.rem_euclid(m as i128) as u64
}

pub(crate) fn write_users<W: Write>(
    out: W,
    counts: Counts,
    seed: u64,
    users: &Users,
) -> io::Result<()> {
    let mut rng = stream(seed, 3);
    let mut wtr = csv::Writer::from_writer(out);
    wtr.write_record(USER_COLUMNS)?;
    let mut rec = ByteRecord::new();
    let mut num = itoa::Buffer::new();
    let mut avatar = String::new();
    let mut cover = String::new();
    let mut spacings: Vec<f64> = Vec::new();
    let mut date = [0u8; 10];
    let span = END_DAY - FIRST_DAY;
    for pos in 0..users.count {
        let rank = users.rank_of_pos(pos);
        let days = users.days_by_rank[rank as usize] as i64;
        let flags = users.flags(pos);
        let id = users.id(pos);
        let h = hash(seed, 8, pos);
        avatar.clear();
        if unit(h) >= 0.002 {
            avatar.push_str("https://assets.mubicdn.net/images/avatars/");
            avatar.push_str(num.format(h % 100_000));
            avatar.push_str("/images-w150.jpg?");
            avatar.push_str(num.format(1_300_000_000 + (h >> 32) % 290_000_000));
        }
        cover.clear();
        if unit(hash(seed, 9, pos)) < 0.1 {
            cover.push_str("https://images.mubicdn.net/images/film/");
            cover.push_str(num.format(1 + (h >> 17) % (counts.movies * 10 / 9 + 1)));
            cover.push_str("/cache-");
            cover.push_str(num.format((h >> 7) % 900_000 + 1_000));
            cover.push_str("/image-w1280.jpg");
        }
        // The user's rating days: `days` distinct days from a first day (skewed recent) to
        // the end, as sorted uniform draws (normalised exponential spacings) spread apart.
        let first = {
            let latest_start = span - days;
            let start = (span as f64 * (1.0 - rng.random::<f64>().powf(0.7))) as i64;
            start.min(latest_start).max(0)
        };
        let room = (span - first - days) as f64;
        spacings.clear();
        let mut sum = 0.0;
        for _ in 0..=days {
            let e = -(1.0 - rng.random::<f64>()).ln();
            sum += e;
            spacings.push(sum);
        }
        for (j, cumulative) in spacings[..days as usize].iter().enumerate() {
            let offset = ((cumulative / sum) * room) as i64;
            let day = FIRST_DAY + first + offset + j as i64;
            rec.clear();
            rec.push_field(num.format(id).as_bytes());
            format_date(day, &mut date);
            rec.push_field(&date);
            rec.push_field(bit(flags.trialist));
            rec.push_field(bit(flags.subscriber));
            rec.push_field(avatar.as_bytes());
            rec.push_field(cover.as_bytes());
            rec.push_field(bit(flags.eligible));
            rec.push_field(bit(flags.payment));
            wtr.write_byte_record(&rec)?;
        }
    }
    wtr.flush()?;
    Ok(())
}
