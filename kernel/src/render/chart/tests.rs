use super::*;
use eddy_engine::arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use eddy_engine::arrow::datatypes::{DataType, Field, Schema};
use serde_json::Value;
use std::sync::Arc;

fn rowset(columns: Vec<(&str, ArrayRef)>) -> RowSet {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let total_rows = batch.num_rows();
    RowSet {
        schema,
        batches: vec![batch],
        total_rows,
        skipped_rows: 0,
        ran_on: None,
    }
}

fn movies() -> RowSet {
    rowset(vec![
        (
            "genre",
            Arc::new(StringArray::from(vec![
                "Drama", "Comedy", "Horror", "Sci-Fi",
            ])),
        ),
        (
            "avg_popularity",
            Arc::new(Float64Array::from(vec![7.5, 6.25, 4.0, 8.0])),
        ),
        ("films", Arc::new(Int64Array::from(vec![120, 80, 35, 50]))),
    ])
}

fn days() -> RowSet {
    // 2024-01-01 is day 19723.
    rowset(vec![
        (
            "day",
            Arc::new(Date32Array::from(
                (0..30).map(|d| 19723 + d).collect::<Vec<_>>(),
            )),
        ),
        (
            "visits",
            Arc::new(Int64Array::from(
                (0..30)
                    .map(|d| 100 + (d * 37 % 23) * 5)
                    .collect::<Vec<i64>>(),
            )),
        ),
        (
            "site",
            Arc::new(StringArray::from(
                (0..30)
                    .map(|d| if d % 2 == 0 { "blog" } else { "shop" })
                    .collect::<Vec<_>>(),
            )),
        ),
    ])
}

fn numbers(n: usize) -> RowSet {
    rowset(vec![
        (
            "height",
            Arc::new(Float64Array::from(
                (0..n)
                    .map(|i| {
                        // Roughly normal: a sum of a few evenly spread values.
                        150.0
                            + (1..=4)
                                .map(|k| ((i * 7919 * k) % 127) as f64 / 10.0)
                                .sum::<f64>()
                    })
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "weight",
            Arc::new(Float64Array::from(
                (0..n)
                    .map(|i| 50.0 + ((i * 104_729) % 400) as f64 / 10.0)
                    .collect::<Vec<_>>(),
            )),
        ),
    ])
}

fn options(kind: ChartKind) -> ChartOptions {
    ChartOptions {
        kind,
        ..ChartOptions::default()
    }
}

fn spec(bundle: &MimeBundle) -> &Value {
    &bundle["application/vnd.vegalite.v4+json"]
}

fn svg(bundle: &MimeBundle) -> &str {
    bundle["image/svg+xml"].as_str().unwrap()
}

#[test]
fn kinds_parse_and_unknown_kinds_list_the_choices() {
    assert_eq!("bar".parse::<ChartKind>().unwrap(), ChartKind::Bar);
    assert_eq!(
        "Histogram".parse::<ChartKind>().unwrap(),
        ChartKind::Histogram
    );
    assert_eq!("pie".parse::<ChartKind>().unwrap(), ChartKind::Arc);
    let error = "donut".parse::<ChartKind>().unwrap_err().to_string();
    assert!(error.contains("'donut'"), "{error}");
    assert!(
        error.contains("bar, line, area, point, arc, histogram, auto"),
        "{error}"
    );
}

#[test]
fn auto_picks_the_kind_from_the_column_types() {
    let kind = |rows: &RowSet| plan(rows, &options(ChartKind::Auto)).unwrap();
    let bar = kind(&movies());
    assert_eq!((bar.kind, bar.x, bar.y), (ChartKind::Bar, 0, Some(1)));
    let line = kind(&days());
    assert_eq!((line.kind, line.x, line.y), (ChartKind::Line, 0, Some(1)));
    let point = kind(&numbers(10));
    assert_eq!(
        (point.kind, point.x, point.y),
        (ChartKind::Point, 0, Some(1))
    );
    let one = rowset(vec![("n", Arc::new(Int64Array::from(vec![1, 2, 3])))]);
    let histogram = kind(&one);
    assert_eq!((histogram.kind, histogram.y), (ChartKind::Histogram, None));
}

#[test]
fn named_columns_and_unknown_columns() {
    let plan = plan(
        &movies(),
        &ChartOptions {
            kind: ChartKind::Auto,
            y: Some("films".into()),
            ..ChartOptions::default()
        },
    )
    .unwrap();
    assert_eq!((plan.x, plan.y), (0, Some(2)));

    let error = chart_bundle(
        &movies(),
        &ChartOptions {
            kind: ChartKind::Bar,
            x: Some("year".into()),
            ..ChartOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "no column 'year' in the result; its columns are: genre, avg_popularity, films"
    );
    let error = chart_bundle(
        &movies(),
        &ChartOptions {
            kind: ChartKind::Bar,
            y: Some("genre".into()),
            ..ChartOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("'genre' is STRING, not a number"), "{error}");
}

#[test]
fn results_without_numbers_or_rows_are_errors() {
    let words = rowset(vec![("w", Arc::new(StringArray::from(vec!["a", "b"])))]);
    let error = chart_bundle(&words, &options(ChartKind::Auto))
        .unwrap_err()
        .to_string();
    assert!(error.contains("needs a numeric column"), "{error}");
    let empty = rowset(vec![
        ("w", Arc::new(StringArray::from(Vec::<&str>::new()))),
        ("n", Arc::new(Int64Array::from(Vec::<i64>::new()))),
    ]);
    assert!(matches!(
        chart_bundle(&empty, &options(ChartKind::Bar)),
        Err(ChartError::NoRows)
    ));
}

#[test]
fn a_bar_chart_spec_has_typed_encodings_data_and_a_description() {
    let bundle = chart_bundle(
        &movies(),
        &ChartOptions {
            title: Some("Popularity".into()),
            ..options(ChartKind::Auto)
        },
    )
    .unwrap();
    assert!(!bundle.contains_key("text/html"));
    assert_eq!(
        bundle["text/plain"],
        "<Bar chart: avg_popularity by genre, 4 rows>"
    );
    let spec = spec(&bundle);
    assert_eq!(spec["mark"]["type"], "bar");
    assert_eq!(spec["mark"]["tooltip"], true);
    assert_eq!(spec["description"], "Bar chart of avg_popularity by genre");
    assert_eq!(spec["title"], "Popularity");
    assert_eq!(spec["encoding"]["x"]["field"], "genre");
    assert_eq!(spec["encoding"]["x"]["type"], "nominal");
    assert_eq!(spec["encoding"]["x"]["sort"], Value::Null);
    assert_eq!(spec["encoding"]["y"]["field"], "avg_popularity");
    assert_eq!(spec["encoding"]["y"]["type"], "quantitative");
    assert_eq!(spec["encoding"]["tooltip"].as_array().unwrap().len(), 2);
    let values = spec["data"]["values"].as_array().unwrap();
    assert_eq!(values.len(), 4);
    assert_eq!(values[1]["genre"], "Comedy");
    assert_eq!(values[1]["avg_popularity"], 6.25);
    assert!(values[1].get("films").is_none(), "only charted columns");
}

#[test]
fn temporal_x_makes_a_line_with_color_series() {
    let bundle = chart_bundle(
        &days(),
        &ChartOptions {
            color: Some("site".into()),
            ..options(ChartKind::Auto)
        },
    )
    .unwrap();
    let spec = spec(&bundle);
    assert_eq!(spec["mark"]["type"], "line");
    assert_eq!(spec["encoding"]["x"]["type"], "temporal");
    assert_eq!(spec["encoding"]["color"]["field"], "site");
    assert_eq!(spec["encoding"]["color"]["type"], "nominal");
    assert_eq!(spec["data"]["values"][0]["day"], "2024-01-01T00:00:00.000");
    assert_eq!(spec["data"]["values"][0]["visits"], 100);
    assert_eq!(
        spec["description"],
        "Line chart of visits by day, colored by site"
    );
    let svg = svg(&bundle);
    assert!(
        svg.contains("<polyline") || svg.contains("<path"),
        "lines drawn"
    );
    assert!(svg.contains("blog") && svg.contains("shop"), "legend");
}

#[test]
fn histograms_bin_x_and_count() {
    let bundle = chart_bundle(&numbers(300), &options(ChartKind::Histogram)).unwrap();
    let spec = spec(&bundle);
    assert_eq!(spec["mark"]["type"], "bar");
    assert_eq!(spec["encoding"]["x"]["field"], "height");
    assert_eq!(spec["encoding"]["x"]["bin"]["step"], 2.5);
    assert_eq!(spec["encoding"]["y"]["aggregate"], "count");
    assert_eq!(bundle["text/plain"], "<Histogram: height, 300 rows>");
    assert!(svg(&bundle).matches("<rect").count() > 10);
}

#[test]
fn arcs_put_y_on_theta_and_x_on_color() {
    let bundle = chart_bundle(&movies(), &options(ChartKind::Arc)).unwrap();
    let spec = spec(&bundle);
    assert_eq!(spec["mark"]["type"], "arc");
    assert_eq!(spec["encoding"]["theta"]["field"], "avg_popularity");
    assert_eq!(spec["encoding"]["color"]["field"], "genre");
    let svg = svg(&bundle);
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("Drama"));
}

#[test]
fn svg_is_a_described_picture_with_marks_and_axis_titles() {
    let bundle = chart_bundle(&movies(), &options(ChartKind::Bar)).unwrap();
    let svg = svg(&bundle);
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    assert!(svg.contains("aria-label=\"Bar chart of avg_popularity by genre\""));
    assert!(svg.contains("<title>Bar chart of avg_popularity by genre</title>"));
    assert!(svg.matches("<rect").count() >= 5, "background and 4 bars");
    assert!(svg.contains("avg_popularity") && svg.contains("genre"));
    assert!(svg.contains("Comedy"));
}

#[test]
fn large_results_are_capped_and_say_so() {
    let bundle = chart_bundle(&numbers(MAX_CHART_ROWS + 10), &options(ChartKind::Point)).unwrap();
    let spec = spec(&bundle);
    assert_eq!(
        spec["data"]["values"].as_array().unwrap().len(),
        MAX_CHART_ROWS
    );
    assert_eq!(
        spec["description"],
        format!(
            "Scatter plot of weight by height (first {MAX_CHART_ROWS} of {} rows)",
            MAX_CHART_ROWS + 10
        )
    );
}

#[test]
fn field_names_with_dots_are_escaped() {
    let rows = rowset(vec![
        ("t.name", Arc::new(StringArray::from(vec!["a", "b"]))),
        ("t.n", Arc::new(Int64Array::from(vec![1, 2]))),
    ]);
    let bundle = chart_bundle(&rows, &options(ChartKind::Bar)).unwrap();
    assert_eq!(spec(&bundle)["encoding"]["x"]["field"], "t\\.name");
    assert_eq!(spec(&bundle)["data"]["values"][0]["t.name"], "a");
}

#[test]
fn bins_are_nice() {
    let bins = svg::Bins::of(&[Some(0.3), Some(9.7)]);
    assert_eq!((bins.start, bins.step, bins.count), (0.0, 1.0, 10));
    assert_eq!(bins.index(9.7), 9);
    assert_eq!(bins.index(0.3), 0);
    let same = svg::Bins::of(&[Some(5.0), Some(5.0)]);
    assert_eq!(same.index(5.0), 0);
}

/// Every kind of chart, over the shapes of data it is drawn for, gives a Vega-Lite spec of
/// that mark and a described SVG with the chart's title. With
/// `EDDY_CHART_SAMPLES=/tmp/charts cargo test --workspace chart::tests::every_kind`, each is also
/// written there, to look at.
#[test]
fn every_kind_draws_a_spec_of_its_mark_and_a_described_svg() {
    let samples = std::env::var("EDDY_CHART_SAMPLES").ok();
    if let Some(dir) = &samples {
        std::fs::create_dir_all(dir).unwrap();
    }
    let many_days = rowset(vec![
        (
            "day",
            Arc::new(Date32Array::from(
                (0..400).map(|d| 19723 + d).collect::<Vec<_>>(),
            )),
        ),
        (
            "revenue",
            Arc::new(Float64Array::from(
                (0..400)
                    .map(|d| 1000.0 + 300.0 * (d as f64 / 20.0).sin() + (d * 37 % 23) as f64 * 10.0)
                    .collect::<Vec<_>>(),
            )),
        ),
    ]);
    let years = rowset(vec![
        (
            "movie_release_year",
            Arc::new(Int64Array::from((1990..2024).collect::<Vec<i64>>())),
        ),
        (
            "avg_popularity",
            Arc::new(Float64Array::from(
                (0..34)
                    .map(|i| 5.0 + (i as f64 / 4.0).sin() * 2.0)
                    .collect::<Vec<_>>(),
            )),
        ),
    ]);
    let cases: Vec<(&str, RowSet, ChartOptions)> = vec![
        (
            "bar",
            movies(),
            ChartOptions {
                title: Some("Popularity by genre".into()),
                ..options(ChartKind::Bar)
            },
        ),
        (
            "bar_years",
            years,
            ChartOptions {
                x: Some("movie_release_year".into()),
                ..options(ChartKind::Bar)
            },
        ),
        (
            "line",
            days(),
            ChartOptions {
                color: Some("site".into()),
                ..options(ChartKind::Line)
            },
        ),
        ("line_long", many_days, options(ChartKind::Line)),
        (
            "area",
            days(),
            ChartOptions {
                title: Some("Visits".into()),
                ..options(ChartKind::Area)
            },
        ),
        ("point", numbers(300), options(ChartKind::Point)),
        (
            "arc",
            movies(),
            ChartOptions {
                y: Some("films".into()),
                ..options(ChartKind::Arc)
            },
        ),
        ("histogram", numbers(1000), options(ChartKind::Histogram)),
        (
            "bar_stacked",
            days(),
            ChartOptions {
                x: Some("site".into()),
                y: Some("visits".into()),
                color: Some("site".into()),
                ..options(ChartKind::Bar)
            },
        ),
    ];
    for (name, rows, options) in cases {
        let bundle = chart_bundle(&rows, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mark = &spec(&bundle)["mark"];
        let mark = mark.as_str().or(mark["type"].as_str()).unwrap_or_default();
        let expected = match options.kind {
            ChartKind::Histogram => "bar",
            kind => kind.name(),
        };
        assert_eq!(mark, expected, "{name}: {}", spec(&bundle));
        let picture = svg(&bundle);
        assert!(
            picture.starts_with("<svg") && picture.trim_end().ends_with("</svg>"),
            "{name}"
        );
        assert!(
            picture.contains("<title>"),
            "{name}: the SVG describes itself"
        );
        if let Some(title) = &options.title {
            assert!(picture.contains(title.as_str()), "{name}: {title}");
        }
        // More than the background: the marks are drawn.
        let drawn = [
            "<rect",
            "<path",
            "<polyline",
            "<polygon",
            "<circle",
            "<line",
        ]
        .iter()
        .map(|tag| picture.matches(tag).count())
        .sum::<usize>();
        assert!(drawn > 4, "{name}: {drawn} shapes");
        if let Some(dir) = &samples {
            std::fs::write(format!("{dir}/{name}.svg"), picture).unwrap();
            std::fs::write(
                format!("{dir}/{name}.vl.json"),
                serde_json::to_string_pretty(spec(&bundle)).unwrap(),
            )
            .unwrap();
        }
    }
}

#[test]
fn decimal_and_integer_types_are_numbers() {
    assert_eq!(
        data::FieldKind::of(&DataType::Decimal128(10, 2)),
        data::FieldKind::Quantitative
    );
    assert_eq!(
        data::FieldKind::of(&DataType::Utf8View),
        data::FieldKind::Nominal
    );
}
