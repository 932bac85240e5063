//! The movies file, and what the ratings need to know of each movie.

use std::io::{self, Write};

use csv::ByteRecord;
use rand::Rng;

use crate::dates::days_from_civil;
use crate::words;
use crate::{hash, pick, stream, Counts, FIRST_DAY, FIRST_YEAR, LAST_YEAR, MOVIE_COLUMNS};

/// What the ratings need to know of each movie.
pub struct Movies {
    pub(crate) ids: Vec<u32>,
    pub(crate) slugs: Vec<Box<str>>,
    /// First day a rating of the movie may have (a year before its release).
    pub(crate) first_day: Vec<u16>,
    /// Mean score the movie's ratings scatter around.
    pub(crate) quality: Vec<f32>,
    /// Running sum of the weights by which ratings pick movies (popular ones more often).
    pub(crate) cumulative: Vec<u64>,
}

impl Movies {
    pub(crate) fn pick<R: Rng>(&self, rng: &mut R) -> usize {
        let total = *self.cumulative.last().expect("at least one movie");
        let x = rng.random_range(0..total);
        self.cumulative.partition_point(|&c| c <= x)
    }
}

pub(crate) fn write_movies<W: Write>(out: W, counts: Counts, seed: u64) -> io::Result<Movies> {
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

pub(crate) fn make_title<R: Rng>(rng: &mut R, out: &mut String) {
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
pub(crate) fn slugify(text: &str, fallback: u64) -> String {
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
