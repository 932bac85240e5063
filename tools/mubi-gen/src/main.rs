//! `mubi-gen --scale 0.01 --seed 42 --out DIR`: writes MUBI-shaped CSV files into DIR.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

/// Writes mubi_movie_data.csv, mubi_ratings_data.csv and mubi_ratings_user_data.csv, shaped
/// like the Kaggle MUBI data set. The same seed and scale give byte-identical files.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Size relative to the real data set: 1 = 226k movies, 15.5M ratings, 4.3M rating-user
    /// rows (about 2.3 GB).
    #[arg(long, default_value_t = 0.01)]
    scale: f64,
    /// Seed of the random streams.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder to write the files into (created if missing).
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let started = Instant::now();
    match mubi_gen::generate(args.scale, args.seed, &args.out) {
        Ok(summary) => {
            let c = summary.counts;
            let rows = [c.movies, c.ratings, c.user_rows];
            for ((path, size), rows) in summary.files.iter().zip(rows) {
                eprintln!(
                    "{:>12} rows {:>10.1} MB  {}",
                    rows,
                    *size as f64 / 1e6,
                    path.display()
                );
            }
            eprintln!(
                "{} users; done in {:.1} s",
                c.users,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("mubi-gen: {err}");
            ExitCode::FAILURE
        }
    }
}
