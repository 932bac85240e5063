//! `'connector' = 'nexmark'`: the Nexmark benchmark's auction events (people, auctions and
//! bids) as a stream, with the options of Flink's nexmark source and the nested-ROW schema of
//! Nexmark's `ddl_gen.sql`. Events come from the `nexmark` crate's generator (the events of
//! Nexmark's Java generator, seeded by event number), turned into Arrow batches directly.
//!
//! Options, as Flink's nexmark source names them (defaults in brackets):
//! `first-event.rate` and `next-event.rate` (10000 events/s), `rate.shape` square | sine
//! (square), `rate.period` (10 min), `events.num` (0: no end; n makes the table bounded),
//! `person.proportion`, `auction.proportion`, `bid.proportion` (1, 3, 46),
//! `person.avg-size`, `auction.avg-size`, `bid.avg-size` (200b, 500b, 100b),
//! `bid.hot-ratio.auctions`, `bid.hot-ratio.bidders`, `auction.hot-ratio.sellers` (2, 4, 4),
//! `rate.limited` (false: events go as fast as the query takes them; true: each when its
//! event time comes). Eddy adds `base-time` (the first event's time, as '2024-01-01
//! 00:00:00'; default: when the query starts), so that a bounded table gives the same events
//! every run.
//!
//! Two things the crate leaves to its user: `EventGenerator::default()` has a step of 0 (it
//! would give the first event for ever), so generators are made with `new`; and its
//! default rate shape is sine where Flink's is square, so the shape is always set.

mod batch;
mod schema;
mod source;

use super::connector::{Connector, CountedSource, Declaration, Declared};
use super::{bad_option, parse_duration, ConnectorOptions};
use crate::error::EngineError;
use nexmark::config::{NexmarkConfig, RateShape};
use source::{NexmarkFactory, Pacing};
use std::sync::Arc;

pub(crate) struct Nexmark;

impl Connector for Nexmark {
    fn name(&self) -> &'static str {
        "nexmark"
    }

    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError> {
        let columns = schema::columns(declaration.table, &declaration.schema)?;
        options.get("connector");
        let mut config = NexmarkConfig::default();
        // Nexmark's Java generator writes these capitalised (q3 filters on `state = 'OR'`);
        // the Rust generator's defaults are lower case. Same lists, same lengths: the
        // events are otherwise the same.
        let words = |text: &str| text.split(',').map(String::from).collect::<Vec<_>>();
        config.us_states = words("AZ,CA,ID,OR,WA,WY");
        config.us_cities = words(
            "Phoenix,Los Angeles,San Francisco,Boise,Portland,Bend,Redmond,Seattle,Kent,Cheyenne",
        );
        config.first_names =
            words("Peter,Paul,Luke,John,Saul,Vicky,Kate,Julie,Sarah,Deiter,Walter");
        config.last_names = words("Shultz,Abrams,Spencer,White,Bartels,Walton,Smith,Jones,Noris");
        config.first_rate = count(options, "first-event.rate", 10_000)?;
        config.next_rate = count(options, "next-event.rate", config.first_rate)?;
        config.rate_shape = match options.get("rate.shape").as_deref().map(str::to_lowercase) {
            None => RateShape::Square,
            Some(shape) if shape == "square" => RateShape::Square,
            Some(shape) if shape == "sine" => RateShape::Sine,
            Some(_) => return Err(bad_option("rate.shape", "the shapes are square and sine")),
        };
        config.rate_period = match options.get("rate.period") {
            Some(period) => parse_duration("rate.period", &period)?.as_secs() as usize,
            None => 600,
        }
        .max(1);
        check_rate_shape(&config)?;
        config.person_proportion = count(options, "person.proportion", 1)?;
        config.auction_proportion = count(options, "auction.proportion", 3)?;
        config.bid_proportion = count(options, "bid.proportion", 46)?;
        config.avg_person_byte_size = bytes(options, "person.avg-size", 200)?;
        config.avg_auction_byte_size = bytes(options, "auction.avg-size", 500)?;
        config.avg_bid_byte_size = bytes(options, "bid.avg-size", 100)?;
        config.hot_auction_ratio = count(options, "bid.hot-ratio.auctions", 2)?;
        config.hot_bidder_ratio = count(options, "bid.hot-ratio.bidders", 4)?;
        config.hot_seller_ratio = count(options, "auction.hot-ratio.sellers", 4)?;
        let events = match options.get("events.num") {
            None => None,
            Some(n) => match n.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => return Err(bad_option("events.num", "a whole number of events")),
            },
        };
        let pacing = if options.flag("rate.limited", false)? {
            Pacing::EventTime
        } else {
            Pacing::AsFastAsTaken
        };
        let base_time = match options.get("base-time") {
            None => None,
            Some(text) => Some(base_time(&text)?),
        };
        options.finish("nexmark")?;
        Ok(Declared::Stream(CountedSource {
            factory: Arc::new(NexmarkFactory {
                config,
                columns,
                schema: declaration.schema.clone(),
                events,
                pacing,
                base_time,
            }),
            skipped: None,
        }))
    }
}

/// Rates the generator's rate shape cannot take: it computes a sine's amplitude as
/// `first - next` in unsigned arithmetic, and counts each step's events in whole numbers, so a
/// rising sine or a step of fewer than two events would overflow or give events the time 0.
fn check_rate_shape(config: &NexmarkConfig) -> Result<(), EngineError> {
    if config.first_rate == config.next_rate {
        return Ok(());
    }
    if config.rate_shape == RateShape::Sine && config.next_rate > config.first_rate {
        return Err(bad_option(
            "rate.shape",
            "a sine goes from first-event.rate down to next-event.rate: make next-event.rate \
             the lower one",
        ));
    }
    let steps = match config.rate_shape {
        RateShape::Square => 2,
        RateShape::Sine => config.sine_approx_steps,
    };
    let step_seconds = config.rate_period.div_ceil(steps);
    if step_seconds.saturating_mul(config.first_rate.min(config.next_rate)) < 2 {
        return Err(bad_option(
            "rate.period",
            "each step of the rate shape must hold at least 2 events: a longer rate.period \
             or higher rates",
        ));
    }
    Ok(())
}

/// A positive whole number option.
fn count(options: &mut ConnectorOptions, key: &str, default: usize) -> Result<usize, EngineError> {
    match options.get(key) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad_option(key, "a whole number above 0")),
        },
    }
}

/// A size as Flink writes memory sizes: '200b', '1kb', '2 mb'.
fn bytes(options: &mut ConnectorOptions, key: &str, default: usize) -> Result<usize, EngineError> {
    let Some(text) = options.get(key) else {
        return Ok(default);
    };
    let compact: String = text.split_whitespace().collect::<String>().to_lowercase();
    let digits = compact.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &compact[digits.len()..];
    let scale = match unit {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mebibytes" => 1 << 20,
        _ => return Err(bad_option(key, "a size such as '200b', '1kb' or '1mb'")),
    };
    match digits.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n.saturating_mul(scale)),
        _ => Err(bad_option(key, "a size such as '200b', '1kb' or '1mb'")),
    }
}

/// `base-time`: a UTC timestamp, in milliseconds since the epoch.
fn base_time(text: &str) -> Result<u64, EngineError> {
    let parsed = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f"))
        .map_err(|_| bad_option("base-time", "a timestamp such as '2024-01-01 00:00:00'"))?;
    u64::try_from(parsed.and_utc().timestamp_millis())
        .map_err(|_| bad_option("base-time", "a time after 1970"))
}
