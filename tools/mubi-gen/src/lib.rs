//! Deterministic generator of MUBI-shaped data: the three CSV files of the Kaggle "MUBI SVOD
//! Platform Database" (movies, ratings, rating users), with the same column names, value
//! formats and roughly the same distributions, at any scale.
//!
//! The same seed and scale give byte-identical files (on one platform: the skewed draws use
//! `f64::powf`, whose last bit may differ between C libraries). Each file draws from its own
//! ChaCha8 stream, so the files can be written in parallel without changing a byte.
//!
//! Scale 1 matches the real data set: 226,087 movies, 15,517,252 ratings by 451,742 users,
//! and 4,297,641 rating-user rows (one per user and day on which the user rated).

mod words;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const MOVIES_FILE: &str = "mubi_movie_data.csv";
pub const RATINGS_FILE: &str = "mubi_ratings_data.csv";
pub const USERS_FILE: &str = "mubi_ratings_user_data.csv";

pub const MOVIE_COLUMNS: [&str; 10] = [
    "movie_id",
    "movie_title",
    "movie_release_year",
    "movie_url",
    "movie_title_language",
    "movie_popularity",
    "movie_image_url",
    "director_id",
    "director_name",
    "director_url",
];

pub const RATING_COLUMNS: [&str; 13] = [
    "movie_id",
    "rating_id",
    "rating_url",
    "rating_score",
    "rating_timestamp_utc",
    "critic",
    "critic_likes",
    "critic_comments",
    "user_id",
    "user_trialist",
    "user_subscriber",
    "user_eligible_for_trial",
    "user_has_payment_method",
];

pub const USER_COLUMNS: [&str; 8] = [
    "user_id",
    "rating_date_utc",
    "user_trialist",
    "user_subscriber",
    "user_avatar_image_url",
    "user_cover_image_url",
    "user_eligible_for_trial",
    "user_has_payment_method",
];

/// Row counts of the real data set (scale 1).
const FULL_MOVIES: f64 = 226_087.0;
const FULL_RATINGS: f64 = 15_517_252.0;
const FULL_USER_ROWS: f64 = 4_297_641.0;
const FULL_USERS: f64 = 451_742.0;

/// Ratings span 2007-01-01 00:00:00 up to (not including) 2020-05-01, when the data was taken.
const FIRST_DAY: i64 = 13_514; // 2007-01-01 in days since 1970-01-01
const END_DAY: i64 = 18_383; // 2020-05-01
const FIRST_YEAR: i64 = 1900;
const LAST_YEAR: i64 = 2020;

/// How many rows of each kind a scale gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub movies: u64,
    pub ratings: u64,
    pub users: u64,
    pub user_rows: u64,
}

impl Counts {
    pub fn for_scale(scale: f64) -> Counts {
        let n = |full: f64| ((full * scale).round() as u64).max(1);
        let user_rows = n(FULL_USER_ROWS);
        Counts {
            movies: n(FULL_MOVIES),
            ratings: n(FULL_RATINGS),
            // Every user has at least one rating day.
            users: n(FULL_USERS).min(user_rows),
            user_rows,
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Summary {
    pub counts: Counts,
    pub files: Vec<(PathBuf, u64)>,
}

/// Writes the three files into `dir` (created if missing).
pub fn generate(scale: f64, seed: u64, dir: &Path) -> io::Result<Summary> {
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "scale must be a positive number",
        ));
    }
    std::fs::create_dir_all(dir)?;
    let counts = Counts::for_scale(scale);
    let create = |name: &str| -> io::Result<BufWriter<File>> {
        Ok(BufWriter::with_capacity(
            1 << 20,
            File::create(dir.join(name))?,
        ))
    };
    let movies = write_movies(create(MOVIES_FILE)?, counts, seed)?;
    let users = Users::new(counts, seed);
    let (ratings_out, users_out) = (create(RATINGS_FILE)?, create(USERS_FILE)?);
    std::thread::scope(|scope| {
        let ratings = scope.spawn(|| write_ratings(ratings_out, counts, seed, &movies, &users));
        let user_rows = write_users(users_out, counts, seed, &users);
        ratings.join().expect("ratings writer panicked")?;
        user_rows
    })?;
    let files = [MOVIES_FILE, RATINGS_FILE, USERS_FILE]
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let size = std::fs::metadata(&path)?.len();
            Ok((path, size))
        })
        .collect::<io::Result<_>>()?;
    Ok(Summary { counts, files })
}

/// Generates everything into memory: for tests and small scales.
pub fn generate_to_vecs(scale: f64, seed: u64) -> io::Result<[Vec<u8>; 3]> {
    let counts = Counts::for_scale(scale);
    let mut movie_csv = Vec::new();
    let movies = write_movies(&mut movie_csv, counts, seed)?;
    let users = Users::new(counts, seed);
    let mut rating_csv = Vec::new();
    write_ratings(&mut rating_csv, counts, seed, &movies, &users)?;
    let mut user_csv = Vec::new();
    write_users(&mut user_csv, counts, seed, &users)?;
    Ok([movie_csv, rating_csv, user_csv])
}

// ---------------------------------------------------------------------------------------------
// Randomness

fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

/// A fixed pseudo-random value per (seed, entity): attributes that several files must agree
/// on (a user's flags) come from here rather than from a stream.
fn hash(seed: u64, salt: u64, x: u64) -> u64 {
    let mut z =
        seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ x.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from a hash.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn pick<'a, R: Rng>(rng: &mut R, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

// ---------------------------------------------------------------------------------------------
// Movies

/// What the ratings need to know of each movie.
pub struct Movies {
    ids: Vec<u32>,
    slugs: Vec<Box<str>>,
    /// First day a rating of the movie may have (a year before its release).
    first_day: Vec<u16>,
    /// Mean score the movie's ratings scatter around.
    quality: Vec<f32>,
    /// Running sum of the weights by which ratings pick movies (popular ones more often).
    cumulative: Vec<u64>,
}

impl Movies {
    fn pick<R: Rng>(&self, rng: &mut R) -> usize {
        let total = *self.cumulative.last().expect("at least one movie");
        let x = rng.random_range(0..total);
        self.cumulative.partition_point(|&c| c <= x)
    }
}

fn write_movies<W: Write>(out: W, counts: Counts, seed: u64) -> io::Result<Movies> {
    let mut rng = stream(seed, 1);
    let mut wtr = csv::Writer::from_writer(out);
    wtr.write_record(MOVIE_COLUMNS)?;
    let n = counts.movies as usize;
    let directors = (counts.movies as f64 * 0.4).ceil() as u64;
    let mut movies = Movies {
        ids: Vec::with_capacity(n),
        slugs: Vec::with_capacity(n),
        first_day: Vec::with_capacity(n),
        quality: Vec::with_capacity(n),
        cumulative: Vec::with_capacity(n),
    };
    let mut rec = ByteRecord::new();
    let mut num = itoa::Buffer::new();
    let mut title = String::new();
    let mut text = String::new();
    let mut total_weight = 0u64;
    let mut id = 0u64;
    for _ in 0..n {
        id += 1;
        if rng.random_bool(0.03) {
            id += rng.random_range(1..40); // ids have gaps, as deleted films leave them
        }
        rec.clear();
        rec.push_field(num.format(id).as_bytes());

        make_title(&mut rng, &mut title);
        let null_title = rng.random_bool(0.0005);
        rec.push_field(if null_title { b"" } else { title.as_bytes() });

        // Release years skew recent: half of all films are from 1996 or later.
        let year = LAST_YEAR
            - (((LAST_YEAR - FIRST_YEAR + 1) as f64) * rng.random::<f64>().powi(2)) as i64;
        let null_year = rng.random_bool(0.005);
        rec.push_field(if null_year {
            b""
        } else {
            num.format(year).as_bytes()
        });

        let slug = slugify(&title, id);
        text.clear();
        text.push_str("http://mubi.com/films/");
        text.push_str(&slug);
        rec.push_field(text.as_bytes());
        rec.push_field(b"en");

        // Popularity (number of MUBI users who list the film) is heavy-tailed: two thirds
        // of the films have 0, a few hundred have thousands.
        let u: f64 = rng.random::<f64>().max(1e-12);
        let popularity = ((0.5 * (1.0 / u - 1.0)) as u64).min(20_000);
        rec.push_field(num.format(popularity).as_bytes());

        if rng.random_bool(0.03) {
            rec.push_field(b"");
        } else {
            text.clear();
            text.push_str("https://images.mubicdn.net/images/film/");
            text.push_str(num.format(id));
            text.push_str("/cache-");
            text.push_str(num.format(rng.random_range(1_000..999_999u32)));
            text.push('-');
            text.push_str(num.format(rng.random_range(1_400_000_000..1_590_000_000u32)));
            text.push_str("/image-w1280.jpg");
            rec.push_field(text.as_bytes());
        }

        // One director mostly, two or three for some films; prolific directors make many.
        let n_directors = if rng.random_bool(0.04) {
            rng.random_range(2..4)
        } else {
            1
        };
        let mut ids = String::new();
        let mut names = String::new();
        let mut urls = String::new();
        for k in 0..n_directors {
            let d = ((directors as f64) * rng.random::<f64>().powf(1.6)) as u64;
            let h = hash(seed, 2, d);
            let name = format!(
                "{} {}",
                words::FIRST_NAMES[(h % words::FIRST_NAMES.len() as u64) as usize],
                words::LAST_NAMES[((h >> 20) % words::LAST_NAMES.len() as u64) as usize]
            );
            if k > 0 {
                ids.push_str(", ");
                names.push_str(", ");
                urls.push_str(", ");
            }
            ids.push_str(num.format(100 + d * 3 + (h >> 40) % 3));
            urls.push_str("http://mubi.com/cast/");
            urls.push_str(&slugify(&name, d));
            names.push_str(&name);
        }
        rec.push_field(ids.as_bytes());
        if rng.random_bool(0.0005) {
            rec.push_field(b"");
            rec.push_field(b"");
        } else {
            rec.push_field(names.as_bytes());
            rec.push_field(urls.as_bytes());
        }
        wtr.write_byte_record(&rec)?;

        let rating_year = if null_year {
            2007
        } else {
            (year - 1).max(2007)
        };
        movies.ids.push(id as u32);
        movies.slugs.push(slug.into_boxed_str());
        movies
            .first_day
            .push((days_from_civil(rating_year, 1, 1) - FIRST_DAY) as u16);
        movies
            .quality
            .push(2.6 + 2.0 * (rng.random::<f32>() + rng.random::<f32>()) / 2.0);
        total_weight += 16 + (16.0 * (popularity as f64).powf(0.8)) as u64;
        movies.cumulative.push(total_weight);
    }
    wtr.flush()?;
    Ok(movies)
}

fn make_title<R: Rng>(rng: &mut R, out: &mut String) {
    out.clear();
    let adj = pick(rng, words::ADJECTIVES);
    let noun = pick(rng, words::NOUNS);
    match rng.random_range(0..100) {
        0..=21 => {
            out.push_str("The ");
            out.push_str(adj);
            out.push(' ');
            out.push_str(noun);
        }
        22..=39 => {
            out.push_str(adj);
            out.push(' ');
            out.push_str(noun);
        }
        40..=51 => {
            out.push_str("The ");
            out.push_str(noun);
            out.push_str(" of ");
            out.push_str(pick(rng, words::PLACES));
        }
        52..=61 => {
            out.push_str(noun);
            out.push_str(" in ");
            out.push_str(pick(rng, words::PLACES));
        }
        62..=69 => {
            out.push_str(pick(rng, words::FIRST_NAMES));
            out.push_str("'s ");
            out.push_str(noun);
        }
        70..=75 => {
            // A comma inside the title: the field must be quoted.
            out.push_str(noun);
            out.push_str(", ");
            out.push_str(adj);
            out.push(' ');
            out.push_str(pick(rng, words::NOUNS));
        }
        76..=79 => {
            // Double quotes inside the title: quoted, with the quotes doubled.
            out.push_str("The \"");
            out.push_str(noun);
            out.push_str("\" Affair");
        }
        80..=85 => {
            out.push_str(adj);
            out.push(' ');
            out.push_str(noun);
            out.push_str(": ");
            out.push_str(pick(rng, words::PLACES));
        }
        86..=90 => {
            out.push_str(noun);
            out.push(' ');
            out.push_str(itoa::Buffer::new().format(rng.random_range(2..5)));
        }
        _ => out.push_str(pick(rng, words::WHOLE_TITLES)),
    }
}

/// A URL slug as MUBI makes them: lower case ASCII words joined by dashes.
fn slugify(text: &str, fallback: u64) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'À' | 'Á' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ō' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'ū' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' => 'n',
            'ś' => 's',
            'ł' => 'l',
            c => c.to_ascii_lowercase(),
        };
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') && c != '\'' {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        slug.push_str("film-");
        slug.push_str(itoa::Buffer::new().format(fallback));
    }
    slug
}

// ---------------------------------------------------------------------------------------------
// Users

/// Users are numbered twice: by `pos`, their place in user-id order (the users file is
/// written in that order), and by `rank`, their place by activity (rank 0 rates most). A
/// multiplicative permutation maps one to the other, so heavy raters are spread over ids.
pub struct Users {
    seed: u64,
    count: u64,
    /// pos = rank * mult mod count, rank = pos * inverse mod count.
    mult: u64,
    inverse: u64,
    /// Rating days of the user of each rank.
    days_by_rank: Vec<u32>,
}

/// Ratings pick the user of rank `count * u^ACTIVITY_SKEW` for uniform `u`.
const ACTIVITY_SKEW: f64 = 1.8;

impl Users {
    fn new(counts: Counts, seed: u64) -> Users {
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

    fn pos_of_rank(&self, rank: u64) -> u64 {
        ((rank as u128 * self.mult as u128) % self.count as u128) as u64
    }

    fn rank_of_pos(&self, pos: u64) -> u64 {
        ((pos as u128 * self.inverse as u128) % self.count as u128) as u64
    }

    /// User ids are large and sparse, as MUBI's are (up to about 99 million at scale 1).
    fn id(&self, pos: u64) -> u64 {
        100 + pos * 219 + hash(self.seed, 3, pos) % 219
    }

    fn flags(&self, pos: u64) -> UserFlags {
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

    fn pick<R: Rng>(&self, rng: &mut R) -> u64 {
        let rank = (self.count as f64 * rng.random::<f64>().powf(ACTIVITY_SKEW)) as u64;
        self.pos_of_rank(rank.min(self.count - 1))
    }
}

#[derive(Clone, Copy)]
struct UserFlags {
    trialist: bool,
    subscriber: bool,
    eligible: bool,
    payment: bool,
}

fn bit(b: bool) -> &'static [u8] {
    if b {
        b"1"
    } else {
        b"0"
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn mod_inverse(a: u64, m: u64) -> u64 {
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

fn write_users<W: Write>(out: W, counts: Counts, seed: u64, users: &Users) -> io::Result<()> {
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

// ---------------------------------------------------------------------------------------------
// Ratings

fn write_ratings<W: Write>(
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

// ---------------------------------------------------------------------------------------------
// Dates (proleptic Gregorian, after Howard Hinnant's `days_from_civil`)

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
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

fn put2(out: &mut [u8], v: i64) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// `YYYY-MM-DD`.
fn format_date(day: i64, out: &mut [u8; 10]) {
    let (y, m, d) = civil_from_days(day);
    put2(&mut out[0..2], y / 100);
    put2(&mut out[2..4], y % 100);
    out[4] = b'-';
    put2(&mut out[5..7], m);
    out[7] = b'-';
    put2(&mut out[8..10], d);
}

/// `YYYY-MM-DD HH:MM:SS` from seconds since 1970-01-01 00:00:00 UTC.
fn format_timestamp(secs: i64, out: &mut [u8; 19]) {
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

#[cfg(test)]
mod tests;
