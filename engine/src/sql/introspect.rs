//! What the session knows by name: for completion and for "what is this?" questions.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Documentation;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use std::collections::BTreeSet;

/// Every name a user may type, sorted and without repeats.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    pub keywords: Vec<String>,
    pub functions: Vec<String>,
    /// Table names as a user writes them (unqualified in the default schema).
    pub tables: Vec<TableInfo>,
}

/// A table's name and columns.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub name: String,
    pub schema: SchemaRef,
    /// A view's `CREATE VIEW` statement; `None` for a table.
    pub definition: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Scalar,
    Aggregate,
    Window,
    Table,
}

impl std::fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FunctionKind::Scalar => "scalar function",
            FunctionKind::Aggregate => "aggregate function",
            FunctionKind::Window => "window function",
            FunctionKind::Table => "table function",
        })
    }
}

/// A function's documentation, as far as the engine has it.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub kind: FunctionKind,
    pub description: Option<String>,
    pub syntax: Option<String>,
    /// (argument, what it means)
    pub arguments: Vec<(String, String)>,
    pub example: Option<String>,
}

/// The answer to "what is this name?".
#[derive(Debug, Clone)]
pub enum ObjectInfo {
    Table(TableInfo),
    Function(FunctionInfo),
}

pub(crate) async fn vocabulary(ctx: &SessionContext) -> Vocabulary {
    let state = ctx.state();
    let functions: BTreeSet<String> = state
        .scalar_functions()
        .keys()
        .chain(state.aggregate_functions().keys())
        .chain(state.window_functions().keys())
        .chain(state.table_functions().keys())
        .cloned()
        .collect();
    Vocabulary {
        keywords: ALL_KEYWORDS.iter().map(|k| k.to_string()).collect(),
        functions: functions.into_iter().collect(),
        tables: tables(ctx).await,
    }
}

/// All user tables; those in the default catalog and schema by their bare name, others
/// qualified. The information schema is left out: it is there for SQL, not for browsing.
async fn tables(ctx: &SessionContext) -> Vec<TableInfo> {
    let options = ctx.copied_config();
    let default_catalog = options.options().catalog.default_catalog.clone();
    let default_schema = options.options().catalog.default_schema.clone();
    let mut found = Vec::new();
    for catalog_name in ctx.catalog_names() {
        let Some(catalog) = ctx.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            if schema_name == "information_schema" {
                continue;
            }
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            for table_name in schema.table_names() {
                let Ok(Some(provider)) = schema.table(&table_name).await else {
                    continue;
                };
                let name = if catalog_name == default_catalog && schema_name == default_schema {
                    table_name
                } else if catalog_name == default_catalog {
                    format!("{schema_name}.{table_name}")
                } else {
                    format!("{catalog_name}.{schema_name}.{table_name}")
                };
                found.push(TableInfo {
                    name,
                    schema: provider.schema(),
                    definition: view_definition(provider.as_ref()),
                });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

pub(crate) async fn describe(ctx: &SessionContext, name: &str) -> Option<ObjectInfo> {
    if let Ok(provider) = ctx
        .table_provider(super::names::table_reference_from_text(name))
        .await
    {
        return Some(ObjectInfo::Table(TableInfo {
            name: name.to_string(),
            schema: provider.schema(),
            definition: view_definition(provider.as_ref()),
        }));
    }
    let state = ctx.state();
    let key = name.to_ascii_lowercase();
    let (kind, documentation) = if let Some(f) = state.scalar_functions().get(&key) {
        (FunctionKind::Scalar, f.documentation())
    } else if let Some(f) = state.aggregate_functions().get(&key) {
        (FunctionKind::Aggregate, f.documentation())
    } else if let Some(f) = state.window_functions().get(&key) {
        (FunctionKind::Window, f.documentation())
    } else if state.table_functions().contains_key(&key) {
        (FunctionKind::Table, None)
    } else {
        return None;
    };
    Some(ObjectInfo::Function(function_info(
        key,
        kind,
        documentation,
    )))
}

fn view_definition(provider: &dyn datafusion::catalog::TableProvider) -> Option<String> {
    (provider.table_type() == datafusion::datasource::TableType::View)
        .then(|| provider.get_table_definition().map(str::to_string))
        .flatten()
}

fn function_info(name: String, kind: FunctionKind, doc: Option<&Documentation>) -> FunctionInfo {
    FunctionInfo {
        name,
        kind,
        description: doc.map(|d| d.description.clone()),
        syntax: doc.map(|d| d.syntax_example.clone()),
        arguments: doc.and_then(|d| d.arguments.clone()).unwrap_or_default(),
        example: doc.and_then(|d| d.sql_example.clone()),
    }
}
