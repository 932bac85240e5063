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

mod dates;
mod movies;
mod ratings;
mod users;
mod words;

pub use movies::Movies;
pub use users::Users;

use movies::write_movies;
use ratings::write_ratings;
use users::write_users;

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

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

#[cfg(test)]
mod tests;
