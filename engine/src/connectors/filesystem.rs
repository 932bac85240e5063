//! `'connector' = 'filesystem'`: a file, a directory or a glob of csv, json (lines) or
//! parquet files, read by DataFusion's listing table.

use super::{bad_option, ConnectorOptions};
use crate::error::EngineError;
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
use std::sync::Arc;

pub(crate) fn table(
    ctx: &SessionContext,
    schema: SchemaRef,
    options: &mut ConnectorOptions,
) -> Result<Arc<dyn TableProvider>, EngineError> {
    // DataFusion's CSV reader uses a null regex only to infer schemas, not to read; so
    // with a null literal the file is read as text and a view turns the literal into NULL
    // and casts each column to its declared type.
    let null_literal = options.get("csv.null-literal");
    let path = options.require("path", "the file, directory or glob to read")?;
    let format = options.require("format", "csv, json or parquet")?;
    let (file_format, extension): (Arc<dyn FileFormat>, &str) =
        match format.to_ascii_lowercase().as_str() {
            "csv" => (Arc::new(csv_format(options)?), ".csv"),
            "json" => (Arc::new(JsonFormat::default()), ".json"),
            "parquet" => (Arc::new(ParquetFormat::default()), ".parquet"),
            _ => {
                return Err(bad_option(
                    "format",
                    "the formats are csv, json and parquet",
                ))
            }
        };
    options.finish("filesystem")?;

    let is_glob = path.contains(['*', '?', '[']);
    let local = Path::new(&path);
    if !is_glob && !path.contains("://") && !local.exists() {
        return Err(EngineError::Io {
            message: format!(
                "no file or directory at '{path}' (relative paths start at the notebook's folder)"
            ),
        });
    }
    let is_dir = local.is_dir();
    // A directory is read whole, for the files of the format's extension; a file named
    // explicitly is read whatever its name ends with.
    let url = if is_dir && !path.ends_with('/') {
        format!("{path}/")
    } else {
        path.clone()
    };
    let url = ListingTableUrl::parse(&url)?;
    let listing = ListingOptions::new(file_format).with_file_extension(if is_dir || is_glob {
        extension
    } else {
        ""
    });
    let file_schema = match &null_literal {
        Some(_) => Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| Field::new(f.name(), DataType::Utf8, true))
                .collect::<Vec<_>>(),
        )),
        None => schema.clone(),
    };
    let config = ListingTableConfig::new(url)
        .with_listing_options(listing)
        .with_schema(file_schema);
    let files: Arc<dyn TableProvider> = Arc::new(ListingTable::try_new(config)?);
    match null_literal {
        None => Ok(files),
        Some(null) => {
            let typed = schema
                .fields()
                .iter()
                .map(|f| {
                    cast(
                        nullif(ident(f.name()), lit(null.clone())),
                        f.data_type().clone(),
                    )
                    .alias(f.name())
                })
                .collect::<Vec<_>>();
            Ok(ctx.read_table(files)?.select(typed)?.into_view())
        }
    }
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
    if options.flag("csv.ignore-parse-errors", false)? {
        return Err(EngineError::NotSupported {
            message: "'csv.ignore-parse-errors' = 'true' is not supported yet: a malformed \
                      row fails the query and its error names the line"
                .to_string(),
        });
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
