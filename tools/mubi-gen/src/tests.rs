use super::*;
use crate::dates::*;
use std::collections::HashSet;

const SCALE: f64 = 0.002;

fn read(csv_bytes: &[u8], columns: &[&str]) -> Vec<csv::StringRecord> {
    let mut reader = csv::ReaderBuilder::new().from_reader(csv_bytes);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, columns);
    // The reader is strict about field counts (`flexible` is off): every record has them all.
    reader.records().map(|r| r.unwrap()).collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = generate_to_vecs(SCALE, 42).unwrap();
    let b = generate_to_vecs(SCALE, 42).unwrap();
    assert!(a == b, "the same seed and scale must give identical files");
    let c = generate_to_vecs(SCALE, 43).unwrap();
    for (x, y) in a.iter().zip(&c) {
        assert_ne!(x, y);
    }
}

#[test]
fn files_on_disk_match_the_in_memory_generation() {
    // generate() writes two files in parallel threads; the bytes must not depend on that.
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(SCALE, 42, dir.path()).unwrap();
    let expected = generate_to_vecs(SCALE, 42).unwrap();
    for ((path, size), bytes) in summary.files.iter().zip(&expected) {
        let on_disk = std::fs::read(path).unwrap();
        assert_eq!(on_disk.len() as u64, *size);
        assert!(&on_disk == bytes, "{} differs", path.display());
    }
}

#[test]
fn files_are_valid_csv_with_consistent_references() {
    let counts = Counts::for_scale(SCALE);
    let [movie_csv, rating_csv, user_csv] = generate_to_vecs(SCALE, 7).unwrap();

    let movies = read(&movie_csv, &MOVIE_COLUMNS);
    assert_eq!(movies.len() as u64, counts.movies);
    let movie_ids: HashSet<u64> = movies.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(movie_ids.len(), movies.len(), "movie ids are unique");
    assert!(
        movies.iter().any(|r| r[1].contains(',')),
        "some title has a comma"
    );
    assert!(
        movies.iter().any(|r| r[1].contains('"')),
        "some title has a double quote"
    );
    assert!(
        movies.iter().any(|r| r[2].is_empty()),
        "some release year is null"
    );
    assert!(
        movies.iter().any(|r| r[6].is_empty()),
        "some image url is null"
    );
    assert!(
        movies.iter().any(|r| r[7].contains(", ")),
        "some film has two directors"
    );
    for r in &movies {
        if !r[2].is_empty() {
            let year: i64 = r[2].parse().unwrap();
            assert!((FIRST_YEAR..=LAST_YEAR).contains(&year));
        }
        assert!(r[3].starts_with("http://mubi.com/films/"));
        assert_eq!(&r[4], "en");
        r[5].parse::<u64>().unwrap();
    }
    let raw = std::str::from_utf8(&movie_csv).unwrap();
    assert!(raw.contains("\"\""), "embedded double quotes are doubled");

    let users = read(&user_csv, &USER_COLUMNS);
    assert_eq!(users.len() as u64, counts.user_rows);
    let user_ids: HashSet<u64> = users.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(user_ids.len() as u64, counts.users);
    let mut days = HashSet::new();
    for r in &users {
        assert!(
            days.insert((r[0].to_string(), r[1].to_string())),
            "one row per user and day"
        );
        assert!(is_date(&r[1]) && &r[1][..] >= "2007-01-01" && &r[1][..] < "2020-05-01");
        for i in [2, 3, 6, 7] {
            assert!(&r[i] == "0" || &r[i] == "1");
        }
    }

    let ratings = read(&rating_csv, &RATING_COLUMNS);
    assert_eq!(ratings.len() as u64, counts.ratings);
    let mut rating_ids = HashSet::new();
    let mut scores = [0usize; 6];
    for r in &ratings {
        assert!(
            movie_ids.contains(&r[0].parse().unwrap()),
            "rating of an unknown movie"
        );
        assert!(rating_ids.insert(r[1].to_string()), "rating ids are unique");
        assert!(r[2].ends_with(&format!("/ratings/{}", &r[1])));
        match &r[3] {
            "" => scores[0] += 1,
            s => scores[s.parse::<usize>().unwrap()] += 1,
        }
        let ts = &r[4];
        assert_eq!(ts.len(), 19);
        assert!(is_date(&ts[..10]) && &ts[10..11] == " " && &ts[13..14] == ":");
        assert!(("2007-01-01 00:00:00".."2020-05-01 00:00:00").contains(&ts));
        r[6].parse::<u64>().unwrap();
        r[7].parse::<u64>().unwrap();
        assert!(
            user_ids.contains(&r[8].parse().unwrap()),
            "rating by an unknown user"
        );
        for i in 9..13 {
            assert!(["0", "1", ""].contains(&&r[i]));
        }
    }
    assert!(scores[0] > 0, "some scores are null");
    assert!(
        scores[1..].iter().all(|&n| n > 0),
        "every score occurs: {scores:?}"
    );
    assert!(scores[4] > scores[1], "scores skew high: {scores:?}");
    let critics = ratings.iter().filter(|r| !r[5].is_empty()).count();
    assert!(
        critics > 0 && critics < ratings.len() / 10,
        "critic text is mostly empty"
    );
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

#[test]
fn dates_round_trip() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2007, 1, 1), FIRST_DAY);
    assert_eq!(days_from_civil(2020, 5, 1), END_DAY);
    for day in (FIRST_DAY - 40_000..END_DAY + 400).step_by(17) {
        let (y, m, d) = civil_from_days(day);
        assert_eq!(days_from_civil(y, m, d), day);
    }
    let mut out = [0u8; 19];
    format_timestamp(
        days_from_civil(2019, 2, 28) * 86_400 + 23 * 3600 + 5 * 60 + 9,
        &mut out,
    );
    assert_eq!(&out, b"2019-02-28 23:05:09");
}

#[test]
fn counts_follow_the_scale() {
    let full = Counts::for_scale(1.0);
    assert_eq!(full.movies, 226_087);
    assert_eq!(full.ratings, 15_517_252);
    assert_eq!(full.user_rows, 4_297_641);
    let tiny = Counts::for_scale(1e-9);
    assert_eq!(
        (tiny.movies, tiny.ratings, tiny.users, tiny.user_rows),
        (1, 1, 1, 1)
    );
    // Even the tiniest scale generates consistent files.
    let [m, r, u] = generate_to_vecs(1e-9, 1).unwrap();
    assert_eq!(read(&m, &MOVIE_COLUMNS).len(), 1);
    assert_eq!(read(&r, &RATING_COLUMNS).len(), 1);
    assert_eq!(read(&u, &USER_COLUMNS).len(), 1);
}
