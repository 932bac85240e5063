//! The ratings file.

use std::io::{self, Write};

use csv::ByteRecord;
use rand::Rng;

use crate::dates::format_timestamp;
use crate::movies::Movies;
use crate::users::{bit, Users};
use crate::words;
use crate::{pick, stream, Counts, END_DAY, FIRST_DAY, RATING_COLUMNS};

pub(crate) fn write_ratings<W: Write>(
    out: W,
    counts: Counts,
    seed: u64,
    movies: &Movies,
    users: &Users,
) -> io::Result<()> {
    let mut rng = stream(seed, 2);
    let mut wtr = csv::Writer::from_writer(out);
    wtr.write_record(RATING_COLUMNS)?;
    let mut rec = ByteRecord::new();
    let mut num = itoa::Buffer::new();
    let mut url = String::new();
    let mut critic = String::new();
    let mut stamp = [0u8; 19];
    let mut rating_id = 100_000u64 + rng.random_range(0..900_000);
    for _ in 0..counts.ratings {
        rating_id += 1;
        if rng.random_bool(0.2) {
            rating_id += rng.random_range(1..4); // deleted ratings leave gaps
        }
        let m = movies.pick(&mut rng);
        let pos = users.pick(&mut rng);
        rec.clear();
        rec.push_field(num.format(movies.ids[m]).as_bytes());
        rec.push_field(num.format(rating_id).as_bytes());
        url.clear();
        url.push_str("http://mubi.com/films/");
        url.push_str(&movies.slugs[m]);
        url.push_str("/ratings/");
        url.push_str(num.format(rating_id));
        rec.push_field(url.as_bytes());

        // Scores scatter around the film's quality; a few ratings have no score.
        if rng.random_bool(0.002) {
            rec.push_field(b"");
        } else {
            let noise: f32 = rng.random::<f32>() + rng.random::<f32>() + rng.random::<f32>() - 1.5;
            let score = (movies.quality[m] + 1.9 * noise).round().clamp(1.0, 5.0) as u8;
            rec.push_field(&[b'0' + score]);
        }

        // Ratings grow over the years (density rises towards the end) and start a year
        // before the film's release.
        let first = (FIRST_DAY + movies.first_day[m] as i64) * 86_400;
        let end = END_DAY * 86_400;
        let t = first + ((end - first) as f64 * rng.random::<f64>().powf(1.0 / 1.8)) as i64;
        format_timestamp(t.min(end - 1), &mut stamp);
        rec.push_field(&stamp);

        // A few ratings come with a review, which may have likes and comments.
        if rng.random_bool(0.02) {
            critic.clear();
            for k in 0..rng.random_range(1..4) {
                if k > 0 {
                    critic.push(' ');
                }
                critic.push_str(pick(&mut rng, words::CRITIC_PHRASES));
            }
            rec.push_field(critic.as_bytes());
            let likes = ((0.5 / rng.random::<f64>().max(1e-9)) as u64).min(5_000);
            rec.push_field(num.format(likes).as_bytes());
            rec.push_field(
                num.format(rng.random_range(0..3u32).saturating_sub(1))
                    .as_bytes(),
            );
        } else {
            rec.push_field(b"");
            rec.push_field(b"0");
            rec.push_field(b"0");
        }

        rec.push_field(num.format(users.id(pos)).as_bytes());
        let flags = users.flags(pos);
        let null_flags = rng.random_bool(0.0002);
        for flag in [
            flags.trialist,
            flags.subscriber,
            flags.eligible,
            flags.payment,
        ] {
            rec.push_field(if null_flags { b"" } else { bit(flag) });
        }
        wtr.write_byte_record(&rec)?;
    }
    wtr.flush()?;
    Ok(())
}
