//! `CREATE TABLE t (…) WITH (…) LIKE source (…)`, as Flink merges the two declarations:
//! the source's columns first, then the statement's; its computed columns, watermark,
//! primary key and options included, left out or overwritten as the LIKE options say
//! (Flink's default: `INCLUDING ALL OVERWRITING OPTIONS`). The merged declaration is then
//! created as if it had been written out.

use super::Engine;
use crate::connectors::{self, ConnectorOptions};
use crate::error::EngineError;
use crate::result::StatementResult;
use crate::sql::flink_syntax::{ComputedColumn, FlinkParts, LikeClause, LikeFeature, LikeStrategy};
use crate::sql::names;
use datafusion::sql::sqlparser::ast::{
    ColumnDef, ColumnOption, CreateTable, Expr, HiveDistributionStyle, ObjectName, TableConstraint,
};
use std::collections::BTreeMap;

/// A connector table's declaration as the catalog keeps it for LIKE: the parsed statement and
/// the Flink clauses cut from it. Its options are the catalog's.
#[derive(Debug, Clone)]
pub(crate) struct TableDdl {
    pub(crate) create: CreateTable,
    pub(crate) flink: FlinkParts,
}

/// One column of a declaration, in the order written.
#[derive(Clone)]
enum Column {
    Physical(ColumnDef),
    Computed(ComputedColumn),
}

impl Column {
    fn name(&self) -> String {
        match self {
            Column::Physical(def) => names::column_name(&def.name),
            Column::Computed(computed) => computed.name.clone(),
        }
    }
}

impl Engine {
    pub(super) fn create_table_like(
        &self,
        create: &CreateTable,
        like: &LikeClause,
        flink: &FlinkParts,
    ) -> Result<StatementResult, EngineError> {
        let source = names::table_reference(ObjectName::from(like.source.clone()))?;
        let Some((base, base_options)) = self.catalog.ddl(&source.to_string()) else {
            let why = if self.ctx.table_exist(source.clone())? {
                format!(
                    "{source} was not declared with CREATE TABLE … WITH ('connector' = …), so \
                     there is no declaration to copy"
                )
            } else {
                format!("there is no table {source}")
            };
            return Err(EngineError::Plan {
                message: format!("LIKE {source}: {why}"),
                position: Some(like.position),
                hint: None,
            });
        };
        if create.query.is_some() {
            return Err(EngineError::NotSupported {
                message: "CREATE TABLE … AS SELECT takes no LIKE clause".into(),
            });
        }
        let own_options = connectors::given_options(&create.table_options)?;
        let options = merge_options(
            base_options,
            own_options,
            like.strategy(LikeFeature::Options),
        )?;
        if !options.contains_key("connector") {
            return Err(EngineError::Plan {
                message: format!(
                    "the table declared LIKE {source} has no 'connector': its LIKE options \
                     exclude {source}'s and the statement gives none"
                ),
                position: Some(like.position),
                hint: Some("add WITH ('connector' = …), or include the source's OPTIONS".into()),
            });
        }
        let (columns, computed) = merge_columns(&base, create, flink, like)?;
        let watermark = merge_watermark(&base, flink, like, &source)?;
        let constraints = merge_constraints(&base, create, like, &source)?;
        let mut merged = create.clone();
        merged.columns = columns;
        merged.constraints = constraints;
        merged.hive_distribution = merge_partitions(&base, create, like, &source)?;
        let merged_flink = FlinkParts {
            watermark,
            computed,
            ..FlinkParts::default()
        };
        self.create_connector_table(&merged, ConnectorOptions::new(options), &merged_flink)
    }
}

fn merge_options(
    base: BTreeMap<String, String>,
    own: BTreeMap<String, String>,
    strategy: LikeStrategy,
) -> Result<BTreeMap<String, String>, EngineError> {
    match strategy {
        LikeStrategy::Excluding => Ok(own),
        LikeStrategy::Overwriting => Ok(base.into_iter().chain(own).collect()),
        LikeStrategy::Including => {
            if let Some(key) = own.keys().find(|key| base.contains_key(*key)) {
                return Err(EngineError::Plan {
                    message: format!(
                        "the option '{key}' is given by the LIKE source and by this statement, \
                         and the LIKE clause says INCLUDING OPTIONS"
                    ),
                    position: None,
                    hint: Some("write OVERWRITING OPTIONS to let this statement's win".into()),
                });
            }
            Ok(base.into_iter().chain(own).collect())
        }
    }
}

/// The columns of a declaration in the order written: computed columns know their place.
fn in_order(physical: &[ColumnDef], computed: &[ComputedColumn]) -> Vec<Column> {
    let mut physical = physical.iter();
    (0..physical.len() + computed.len())
        .filter_map(|at| match computed.iter().find(|c| c.index == at) {
            Some(column) => Some(Column::Computed(column.clone())),
            None => physical.next().cloned().map(Column::Physical),
        })
        .collect()
}

/// The source's columns, then the statement's. Physical columns are always copied (a table
/// LIKE another has at least its columns); computed ones as `GENERATED` says.
fn merge_columns(
    base: &TableDdl,
    create: &CreateTable,
    flink: &FlinkParts,
    like: &LikeClause,
) -> Result<(Vec<ColumnDef>, Vec<ComputedColumn>), EngineError> {
    let excluding_constraints = like.strategy(LikeFeature::Constraints) == LikeStrategy::Excluding;
    let mut own = in_order(&create.columns, &flink.computed);
    let mut columns = Vec::new();
    for column in in_order(&base.create.columns, &base.flink.computed) {
        match column {
            Column::Physical(mut def) => {
                if excluding_constraints {
                    def.options.retain(|o| !is_key(&o.option));
                }
                columns.push(Column::Physical(def));
            }
            Column::Computed(computed) => match like.strategy(LikeFeature::Generated) {
                LikeStrategy::Excluding => {}
                LikeStrategy::Including => columns.push(Column::Computed(computed)),
                LikeStrategy::Overwriting => {
                    let replacement = own.iter().position(|c| {
                        matches!(c, Column::Computed(_)) && c.name() == computed.name
                    });
                    match replacement {
                        Some(at) => columns.push(own.remove(at)),
                        None => columns.push(Column::Computed(computed)),
                    }
                }
            },
        }
    }
    for column in own {
        let name = column.name();
        if columns.iter().any(|c| c.name() == name) {
            return Err(EngineError::Plan {
                message: format!("the column {name} is declared by the LIKE source too"),
                position: Some(like.position),
                hint: matches!(column, Column::Computed(_)).then(|| {
                    "write LIKE source (OVERWRITING GENERATED) to replace its computed column"
                        .to_string()
                }),
            });
        }
        columns.push(column);
    }
    let mut physical = Vec::new();
    let mut computed = Vec::new();
    for (at, column) in columns.into_iter().enumerate() {
        match column {
            Column::Physical(def) => physical.push(def),
            Column::Computed(mut column) => {
                column.index = at;
                computed.push(column);
            }
        }
    }
    Ok((physical, computed))
}

fn merge_watermark(
    base: &TableDdl,
    flink: &FlinkParts,
    like: &LikeClause,
    source: &impl std::fmt::Display,
) -> Result<Option<crate::sql::flink_syntax::WatermarkDecl>, EngineError> {
    let (theirs, ours) = (&base.flink.watermark, &flink.watermark);
    match like.strategy(LikeFeature::Watermarks) {
        LikeStrategy::Excluding => Ok(ours.clone()),
        LikeStrategy::Overwriting => Ok(ours.clone().or_else(|| theirs.clone())),
        LikeStrategy::Including => match (theirs, ours) {
            (Some(_), Some(ours)) => Err(EngineError::Plan {
                message: format!("{source} has a WATERMARK already, and a table has one"),
                position: Some(ours.position),
                hint: Some(format!(
                    "write LIKE {source} (OVERWRITING WATERMARKS) to replace it"
                )),
            }),
            _ => Ok(ours.clone().or_else(|| theirs.clone())),
        },
    }
}

/// Whether a column option makes the column a key (`id BIGINT PRIMARY KEY NOT ENFORCED`).
fn is_key(option: &ColumnOption) -> bool {
    matches!(
        option,
        ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_)
    )
}

fn has_primary_key(create: &CreateTable) -> bool {
    create
        .constraints
        .iter()
        .any(|c| matches!(c, TableConstraint::PrimaryKey(_)))
        || create.columns.iter().any(|c| {
            c.options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)))
        })
}

/// The columns of a declaration's primary key: a table constraint or a column's own.
pub(super) fn primary_key(create: &CreateTable) -> Vec<String> {
    let from_constraint = create.constraints.iter().find_map(|c| match c {
        TableConstraint::PrimaryKey(key) => Some(
            key.columns
                .iter()
                .map(|column| match &column.column.expr {
                    Expr::Identifier(ident) => names::column_name(ident),
                    other => other.to_string(),
                })
                .collect(),
        ),
        _ => None,
    });
    from_constraint.unwrap_or_else(|| {
        create
            .columns
            .iter()
            .filter(|c| {
                c.options
                    .iter()
                    .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)))
            })
            .map(|c| names::column_name(&c.name))
            .collect()
    })
}

/// The columns of a declaration's `PARTITIONED BY (…)`, in order.
pub(super) fn partition_keys(create: &CreateTable) -> Vec<String> {
    match &create.hive_distribution {
        HiveDistributionStyle::PARTITIONED { columns } => columns
            .iter()
            .map(|column| names::column_name(&column.name))
            .collect(),
        _ => Vec::new(),
    }
}

fn merge_partitions(
    base: &TableDdl,
    create: &CreateTable,
    like: &LikeClause,
    source: &impl std::fmt::Display,
) -> Result<HiveDistributionStyle, EngineError> {
    let theirs = &base.create.hive_distribution;
    let ours = &create.hive_distribution;
    let none = |d: &HiveDistributionStyle| matches!(d, HiveDistributionStyle::NONE);
    match like.strategy(LikeFeature::Partitions) {
        LikeStrategy::Including if !none(theirs) && !none(ours) => Err(EngineError::Plan {
            message: format!("{source} is PARTITIONED BY already, and a table is partitioned once"),
            position: Some(like.position),
            hint: Some(format!(
                "write LIKE {source} (EXCLUDING PARTITIONS) to part it otherwise"
            )),
        }),
        LikeStrategy::Including if none(ours) => Ok(theirs.clone()),
        _ => Ok(ours.clone()),
    }
}

fn merge_constraints(
    base: &TableDdl,
    create: &CreateTable,
    like: &LikeClause,
    source: &impl std::fmt::Display,
) -> Result<Vec<TableConstraint>, EngineError> {
    if like.strategy(LikeFeature::Constraints) == LikeStrategy::Excluding {
        return Ok(create.constraints.clone());
    }
    if has_primary_key(&base.create) && has_primary_key(create) {
        return Err(EngineError::Plan {
            message: format!("{source} has a PRIMARY KEY already, and a table has one"),
            position: Some(like.position),
            hint: Some(format!(
                "write LIKE {source} (EXCLUDING CONSTRAINTS) to declare another"
            )),
        });
    }
    Ok(base
        .create
        .constraints
        .iter()
        .chain(&create.constraints)
        .cloned()
        .collect())
}
