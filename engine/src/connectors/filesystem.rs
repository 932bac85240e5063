//! `'connector' = 'filesystem'`: a file, a directory or a glob of csv, json (lines) or
//! parquet files, read by DataFusion's listing table.

use super::connector::{Connector, Declaration, Declared, FileTable};
use super::declared_table::DeclaredTable;
use super::{bad_option, file_monitor, lenient_csv, replay, ConnectorOptions};
use crate::batch::remembered_table::FileListing;
use crate::error::EngineError;
use crate::stream::sink::partitions::{PartitionSpec, SINK_OPTIONS};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionContext;
use datafusion::functions::expr_fn::nullif;
use datafusion::logical_expr::{cast, ident, lit};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// `'connector' = 'filesystem'`: a bounded table over files; with
/// `'source.monitor-interval'`, a stream of the lines added to them; with
/// `'source.replay-speed'`, a replay of a file in event-time order.
pub(crate) struct Filesystem;

impl Connector for Filesystem {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError> {
        let Declaration {
            ctx,
            table,
            schema,
            partition_by,
            event_time,
            ..
        } = declaration;
        let streamed = ["source.monitor-interval", "source.replay-speed"]
            .into_iter()
            .find(|key| options.has(key));
        if let (Some(key), false) = (streamed, partition_by.is_empty()) {
            return Err(bad_option(
                key,
                "a partitioned table is read as a whole, not streamed: leave PARTITIONED BY \
                 out to stream its files",
            ));
        }
        if options.has("source.monitor-interval") {
            let source = file_monitor::source(table, schema.clone(), options)?;
            return Ok(Declared::Stream(source));
        }
        if options.has("source.replay-speed") {
            let speed = options.get("source.replay-speed").unwrap_or_default();
            let Some(event_time) = event_time else {
                return Err(bad_option(
                    "source.replay-speed",
                    "a replay orders rows by event time: declare WATERMARK FOR ts AS ts",
                ));
            };
            let files = self::table(ctx, table, schema.clone(), &[], options)?;
            let source = replay::source(table, files.provider, schema.clone(), event_time, &speed)?;
            return Ok(Declared::Stream(source));
        }
        Ok(Declared::Table(self::table(
            ctx,
            table,
            schema.clone(),
            partition_by,
            options,
        )?))
    }
}

pub(crate) fn table(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    partition_by: &[String],
    options: &mut ConnectorOptions,
) -> Result<FileTable, EngineError> {
    // DataFusion's CSV reader uses a null regex only to infer schemas, not to read; so
    // with a null literal the file is read as text and a view turns the literal into NULL
    // and casts each column to its declared type.
    let null_literal = options.get("csv.null-literal");
    let lenient = options.flag("csv.ignore-parse-errors", false)?;
    let path = options.require("path", "the file, directory or glob to read")?;
    let format = options.require("format", "csv, json or parquet")?;
    let mut csv_syntax = None;
    let (file_format, extension): (Arc<dyn FileFormat>, &str) =
        match format.to_ascii_lowercase().as_str() {
            "csv" => {
                let csv = csv_format(options)?;
                csv_syntax = Some(lenient_csv::CsvSyntax::of(csv.options()));
                (Arc::new(csv), ".csv")
            }
            "json" => (Arc::new(JsonFormat::default()), ".json"),
            "parquet" => (Arc::new(ParquetFormat::default()), ".parquet"),
            _ => {
                return Err(bad_option(
                    "format",
                    "the formats are csv, json and parquet",
                ))
            }
        };
    // What only a streaming INSERT into the table reads: checked now, used then.
    PartitionSpec::from_options(partition_by, options.all())?;
    let writes_here = SINK_OPTIONS.iter().any(|key| options.has(key)) || !partition_by.is_empty();
    for key in SINK_OPTIONS {
        options.get(key);
    }
    options.finish("filesystem")?;
    let is_csv = format.eq_ignore_ascii_case("csv");
    if !is_csv && (lenient || null_literal.is_some()) {
        return Err(bad_option(
            if lenient {
                "csv.ignore-parse-errors"
            } else {
                "csv.null-literal"
            },
            "the csv.* options apply to 'format' = 'csv' only",
        ));
    }

    let is_glob = path.contains(['*', '?', '[']);
    let local = Path::new(&path);
    // A table a query writes into (partitioned, or with sink options) may name a directory
    // its first INSERT creates; until then it has no rows.
    if !is_glob && !path.contains("://") && !local.exists() && !writes_here {
        return Err(EngineError::Io {
            message: format!(
                "no file or directory at '{path}' (relative paths start at the notebook's folder)"
            ),
            source: None,
        });
    }
    let is_dir = local.is_dir() || (writes_here && !local.exists());
    if !partition_by.is_empty() && (lenient || null_literal.is_some() || !is_dir) {
        return Err(EngineError::NotSupported {
            message: format!(
                "table {name} is partitioned: it reads a directory of partition directories \
                 ('path' names a directory), without csv.ignore-parse-errors or \
                 csv.null-literal"
            ),
        });
    }
    // A directory is read whole, for the files of the format's extension; a file named
    // explicitly is read whatever its name ends with.
    let url = if is_dir && !path.ends_with('/') {
        format!("{path}/")
    } else {
        path.clone()
    };
    let url = ListingTableUrl::parse(&url)?;
    let extension = if is_dir || is_glob { extension } else { "" };
    let mut listing = ListingOptions::new(file_format).with_file_extension(extension);
    // Partition columns are read from the directory names (`dt=2024-01-01/`), not the files.
    let partition_columns = partition_by
        .iter()
        .map(|key| {
            Ok((
                key.clone(),
                schema.field_with_name(key)?.data_type().clone(),
            ))
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    if !partition_columns.is_empty() {
        listing = listing.with_table_partition_cols(partition_columns);
    }
    let skipped = Arc::new(AtomicU64::new(0));
    if let (true, Some(syntax)) = (lenient, csv_syntax) {
        // Records with the wrong number of fields are skipped too, which Arrow's reader
        // cannot do: the scan reads the files itself, and gives typed rows.
        return Ok(FileTable {
            provider: Arc::new(lenient_csv::LenientCsvTable::new(
                url,
                extension,
                schema.clone(),
                syntax,
                null_literal,
                skipped.clone(),
            )),
            skipped: Some(skipped),
            // Which rows a lenient table skips depends on the columns read: its columns
            // are read from the files each time, so the count stays exact.
            listing: None,
        });
    }
    // Parquet is columnar and compressed already; CSV and JSON are parsed every time.
    let kept_listing = (!format.eq_ignore_ascii_case("parquet")).then(|| {
        Box::new(FileListing {
            url: url.clone(),
            extension: extension.to_string(),
        })
    });
    let read_as_text = null_literal.is_some();
    let file_schema = match read_as_text {
        true => Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| Field::new(f.name(), DataType::Utf8, true))
                .collect::<Vec<_>>(),
        )),
        false => Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .filter(|f| !partition_by.contains(f.name()))
                .cloned()
                .collect::<Vec<_>>(),
        )),
    };
    let config = ListingTableConfig::new(url)
        .with_listing_options(listing)
        .with_schema(file_schema);
    let files: Arc<dyn TableProvider> = Arc::new(ListingTable::try_new(config)?);
    if !read_as_text {
        // The listing gives partition columns last; the table has them where declared.
        let (provider, listing) = match files.schema().fields() == schema.fields() {
            true => (files, kept_listing),
            false => {
                let declared = schema
                    .fields()
                    .iter()
                    .map(|f| ident(f.name()))
                    .collect::<Vec<_>>();
                let view = ctx.read_table(files)?.select(declared)?.into_view();
                // A view's plan is not the file scan the kept columns' scan cuts into
                // ranges for every core: read from the files each time.
                (
                    Arc::new(DeclaredTable::new(view)) as Arc<dyn TableProvider>,
                    None,
                )
            }
        };
        return Ok(FileTable {
            provider,
            skipped: None,
            listing,
        });
    }
    // `csv.null-literal` without leniency: the values are read as text, the NULL text made
    // NULL, and the rest cast, failing loudly on a value that does not parse.
    let frame = ctx.read_table(files)?;
    let typed = schema
        .fields()
        .iter()
        .map(|f| {
            let value = match &null_literal {
                Some(null) => nullif(ident(f.name()), lit(null.clone())),
                None => ident(f.name()),
            };
            cast(value, f.data_type().clone()).alias(f.name())
        })
        .collect::<Vec<_>>();
    Ok(FileTable {
        provider: Arc::new(DeclaredTable::new(frame.select(typed)?.into_view())),
        skipped: None,
        // As above: a view over the files is read from them each time.
        listing: None,
    })
}

fn csv_format(options: &mut ConnectorOptions) -> Result<CsvFormat, EngineError> {
    let mut format = CsvFormat::default()
        // Flink's CSV format cannot skip a header; exported files nearly always have one,
        // so Eddy reads one unless told not to.
        .with_has_header(options.flag("csv.header", true)?);
    if let Some(delimiter) = options.get("csv.field-delimiter") {
        format = format.with_delimiter(single_byte("csv.field-delimiter", &delimiter)?);
    }
    if let Some(quote) = options.get("csv.quote-character") {
        format = format.with_quote(single_byte("csv.quote-character", &quote)?);
    }
    if let Some(escape) = options.get("csv.escape-character") {
        format = format.with_escape(Some(single_byte("csv.escape-character", &escape)?));
    }
    if options.flag("csv.allow-comments", false)? {
        format = format.with_comment(Some(b'#'));
    }
    Ok(format)
}

/// One character, written plainly or as Flink's escapes `\t` and `\n`.
fn single_byte(key: &str, value: &str) -> Result<u8, EngineError> {
    let unescaped = match value {
        "\\t" => "\t",
        "\\n" => "\n",
        other => other,
    };
    match unescaped.as_bytes() {
        [byte] => Ok(*byte),
        _ => Err(bad_option(
            key,
            "the value is a single ASCII character, e.g. ';' or '\\t'",
        )),
    }
}
