//! The statements the engine runs itself rather than through DataFusion's planner: Flink's
//! `CREATE TABLE … WITH ('connector' = …)`, a table from inline CSV, and
//! `CACHE TABLE` / `UNCACHE TABLE`.

use super::table_like::TableDdl;
use super::Engine;
use crate::batch::cache::{self, Cached};
use crate::batch::inline_csv::read_inline_csv;
use crate::batch::remembered_table::RememberedTable;
use crate::connectors::computed_columns::{ComputedColumns, WithComputed};
use crate::connectors::{self, ConnectorOptions, CountedSource, Declaration, Declared};
use crate::error::EngineError;
use crate::result::StatementResult;
use crate::sql::flink_syntax::FlinkParts;
use crate::sql::names;
use crate::sql::types::arrow_type;
use crate::stream::catalog::{SourceFactory, StreamPlaceholder, StreamTable};
use crate::stream::watermark::WatermarkSpec;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::sql::sqlparser::ast::{ColumnOption, CreateTable};
use std::sync::Arc;

impl Engine {
    /// `CREATE TABLE t (…) WITH ('connector' = …)`, Flink's DDL: DataFusion parses it but
    /// does not plan it, so the engine builds the table itself.
    pub(super) fn create_connector_table(
        &self,
        create: &CreateTable,
        mut options: ConnectorOptions,
        flink: &FlinkParts,
    ) -> Result<StatementResult, EngineError> {
        let name = names::table_reference(create.name.clone())?;
        if create.query.is_some() {
            return Err(EngineError::NotSupported {
                message: "CREATE TABLE … WITH (connector) AS SELECT is not supported; \
                          declare the columns"
                    .to_string(),
            });
        }
        // BigQuery's `PARTITION BY expression`; Flink's `PARTITIONED BY (columns)` is below.
        if create.partition_by.is_some() {
            return Err(EngineError::NotSupported {
                message: format!(
                    "PARTITION BY an expression (table {name}) is not supported; Flink's \
                     PARTITIONED BY (column, …) is"
                ),
            });
        }
        if create.columns.is_empty() {
            return Err(EngineError::Plan {
                message: format!("table {name} declares no columns"),
                position: None,
                hint: Some(
                    "list the columns: CREATE TABLE t (id BIGINT, name STRING) WITH (…)".into(),
                ),
            });
        }
        if self.ctx.table_exist(name.clone())? {
            if create.if_not_exists {
                return Ok(StatementResult::Done {
                    message: format!("Table {name} exists; left as it is."),
                });
            }
            if !create.or_replace {
                return Err(EngineError::Plan {
                    message: format!("table {name} already exists"),
                    position: None,
                    hint: Some(format!(
                        "DROP TABLE {name} first, or use CREATE OR REPLACE TABLE"
                    )),
                });
            }
        }
        let fields = create
            .columns
            .iter()
            .map(|column| {
                let nullable = !column
                    .options
                    .iter()
                    .any(|o| matches!(o.option, ColumnOption::NotNull));
                Ok(Field::new(
                    names::column_name(&column.name),
                    arrow_type(&column.data_type)?,
                    nullable,
                ))
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let declared_schema = Arc::new(Schema::new(fields));
        // Computed columns are added to what the connector makes, in the declared order.
        let computed = match flink.computed.as_slice() {
            [] => None,
            columns => Some(Arc::new(ComputedColumns::plan(
                &self.ctx,
                name.table(),
                &declared_schema,
                columns,
            )?)),
        };
        let schema = computed
            .as_ref()
            .map_or_else(|| declared_schema.clone(), |c| c.schema());
        let primary_key = super::table_like::primary_key(create);
        if let Some(key) = primary_key.iter().find(|key| schema.index_of(key).is_err()) {
            return Err(EngineError::Plan {
                message: format!(
                    "the PRIMARY KEY of {name} names {key}, which is not one of its columns"
                ),
                position: None,
                hint: None,
            });
        }
        let source = options.all().clone();
        let connector = options.get("connector").unwrap_or_default();
        let idle_timeout = options
            .get("scan.watermark.idle-timeout")
            .map(|v| connectors::parse_duration("scan.watermark.idle-timeout", &v))
            .transpose()?;
        let watermark = flink
            .watermark
            .as_ref()
            .map(|decl| WatermarkSpec::from_decl(&self.ctx, decl, &schema, idle_timeout))
            .transpose()?;
        if watermark.is_none() && idle_timeout.is_some() {
            return Err(connectors::bad_option(
                "scan.watermark.idle-timeout",
                "it applies to tables with a WATERMARK",
            ));
        }
        let partition_by = super::table_like::partition_keys(create);
        if let Some(key) = partition_by
            .iter()
            .find(|key| declared_schema.index_of(key).is_err())
        {
            return Err(EngineError::Plan {
                message: format!(
                    "PARTITIONED BY names {key}, which is not a declared column of {name} \
                     (computed columns cannot part files)"
                ),
                position: None,
                hint: None,
            });
        }
        if !partition_by.is_empty() && !connector.eq_ignore_ascii_case("filesystem") {
            return Err(EngineError::NotSupported {
                message: format!(
                    "PARTITIONED BY applies to filesystem tables, whose files it parts into \
                     directories; {name} is a {connector} table"
                ),
            });
        }
        if let Some(column) = flink.metadata.first() {
            if !["kafka", "upsert-kafka"]
                .iter()
                .any(|c| c.eq_ignore_ascii_case(connector.trim()))
            {
                return Err(EngineError::Plan {
                    message: format!(
                        "the metadata column {} belongs to a Kafka table; a {connector} table \
                         has no metadata columns",
                        column.name
                    ),
                    position: Some(column.position),
                    hint: None,
                });
            }
        }
        let declaration = Declaration {
            ctx: &self.ctx,
            table: name.table(),
            schema: declared_schema.clone(),
            partition_by: &partition_by,
            primary_key: &primary_key,
            metadata: &flink.metadata,
            idle_timeout,
            // A replay orders the connector's rows: by a declared column only.
            event_time: watermark
                .as_ref()
                .map(|w| w.column.as_str())
                .filter(|column| declared_schema.index_of(column).is_ok()),
        };
        let declared = connectors::connector(&connector)?.declare(&declaration, &mut options)?;
        let key = name.to_string();
        // What a later `CREATE TABLE … LIKE` copies.
        let ddl = || TableDdl {
            create: create.clone(),
            flink: flink.clone(),
        };
        match declared {
            Declared::Stream(CountedSource { factory, skipped }) => {
                let factory: Arc<dyn SourceFactory> = match computed {
                    Some(columns) => Arc::new(WithComputed {
                        inner: factory,
                        columns,
                    }),
                    None => factory,
                };
                self.ctx.deregister_table(name.clone())?;
                self.ctx.register_table(
                    name.clone(),
                    Arc::new(StreamPlaceholder {
                        name: key.clone(),
                        schema: schema.clone(),
                        definition: None,
                    }),
                )?;
                let proctime = flink
                    .computed
                    .iter()
                    .filter(|c| is_proctime(&c.expression))
                    .map(|c| c.name.clone())
                    .collect();
                let stream = StreamTable {
                    schema,
                    watermark,
                    proctime,
                    factory,
                    skipped,
                };
                self.catalog.declare_stream(&key, source, stream);
                self.catalog.keep_ddl(&key, ddl());
                Ok(StatementResult::Done {
                    message: format!("Created stream table {name}."),
                })
            }
            Declared::Table(_) if watermark.is_some() => Err(EngineError::NotSupported {
                message: format!(
                    "a WATERMARK makes {name} an event-time stream, which the {connector} \
                     connector does not give for these options"
                ),
            }),
            Declared::Sink(_) if computed.is_some() => Err(EngineError::NotSupported {
                message: format!(
                    "computed columns belong to a table a query reads; {name} ('connector' \
                     = '{connector}') only takes rows"
                ),
            }),
            Declared::Sink(_) if watermark.is_some() => Err(EngineError::NotSupported {
                message: format!(
                    "a WATERMARK belongs to a table a query reads; {name} ('connector' = \
                     '{connector}') only takes rows"
                ),
            }),
            Declared::Sink(table) => {
                self.ctx.deregister_table(name.clone())?;
                self.ctx.register_table(name.clone(), Arc::new(table))?;
                self.catalog.declare_table(&key, source, None);
                self.catalog.keep_ddl(&key, ddl());
                Ok(StatementResult::Done {
                    message: format!("Created table {name} ({connector}: rows go in only)."),
                })
            }
            Declared::Table(table) => {
                let provider: Arc<dyn TableProvider> = match table.listing {
                    Some(listing) => Arc::new(RememberedTable::new(
                        table.provider,
                        *listing,
                        self.column_memory.clone(),
                    )),
                    None => table.provider,
                };
                let provider = match computed {
                    Some(columns) => columns.table(name.table(), provider)?,
                    None => provider,
                };
                self.ctx.deregister_table(name.clone())?;
                self.ctx.register_table(name.clone(), provider)?;
                self.catalog.declare_table(&key, source, table.skipped);
                self.catalog.keep_ddl(&key, ddl());
                Ok(StatementResult::Done {
                    message: format!("Created table {name}."),
                })
            }
        }
    }

    /// A table made from CSV text with a header line (`%table NAME` with lines below),
    /// column types inferred from the values. Replaces a table of that name.
    pub fn create_table_from_csv(&self, name: &str, csv: &str) -> Result<usize, EngineError> {
        let name = names::table_reference_from_text(name);
        let table = read_inline_csv(csv)?;
        let rows = table.rows();
        let table = MemTable::try_new(table.schema, vec![table.batches])?;
        self.ctx.deregister_table(name.clone())?;
        self.ctx.register_table(name.clone(), Arc::new(table))?;
        self.catalog.forget(&name.to_string());
        Ok(rows)
    }

    /// `CACHE TABLE t`: reads t's rows into memory, within what the memory limit leaves,
    /// and answers later queries from there.
    pub(super) async fn cache_table(
        &self,
        name: TableReference,
        with_query: bool,
    ) -> Result<StatementResult, EngineError> {
        if with_query {
            return Err(EngineError::NotSupported {
                message: "CACHE TABLE t AS SELECT … is not supported: CREATE TABLE t AS \
                          SELECT … keeps a query's rows in memory"
                    .to_string(),
            });
        }
        let key = name.to_string();
        if self.catalog.cached_bytes(&key).is_some() {
            return Ok(StatementResult::Done {
                message: format!("Table {name} is already cached."),
            });
        }
        let source = self.ctx.table_provider(name.clone()).await?;
        // Read from the files: the cached copy holds every column, so the columns kept as
        // queries read them would only be a second copy.
        let source = match source.as_ref().downcast_ref::<RememberedTable>() {
            Some(remembered) => remembered.files(),
            None => source,
        };
        let held = self.catalog.cached_total();
        let budget = self.memory_limit.saturating_sub(held);
        let (table, rows, bytes) = cache::load(&self.ctx, &key, source.clone(), budget).await?;
        self.ctx.deregister_table(name.clone())?;
        self.ctx.register_table(name.clone(), Arc::new(table))?;
        let cached = Cached {
            original: source,
            bytes,
        };
        self.catalog.cache(&key, cached);
        Ok(StatementResult::Done {
            message: format!(
                "Cached table {name}: {rows} rows, {:.1} MiB in memory.",
                bytes as f64 / (1 << 20) as f64
            ),
        })
    }

    /// `UNCACHE TABLE t`: frees the rows and reads t from its source again.
    pub(super) fn uncache_table(
        &self,
        name: TableReference,
        if_exists: bool,
    ) -> Result<StatementResult, EngineError> {
        let Some(cached) = self.catalog.uncache(&name.to_string()) else {
            if if_exists {
                return Ok(StatementResult::Done {
                    message: format!("Table {name} was not cached."),
                });
            }
            return Err(EngineError::Plan {
                message: format!("table {name} is not cached"),
                position: None,
                hint: Some(format!("CACHE TABLE {name} caches it")),
            });
        };
        self.ctx.deregister_table(name.clone())?;
        self.ctx.register_table(name.clone(), cached.original)?;
        Ok(StatementResult::Done {
            message: format!("Uncached table {name}."),
        })
    }
}

/// Whether a computed column's expression is `PROCTIME()` (however spaced or cased).
fn is_proctime(expression: &str) -> bool {
    let compact: String = expression.split_whitespace().collect();
    compact.eq_ignore_ascii_case("PROCTIME()")
}
