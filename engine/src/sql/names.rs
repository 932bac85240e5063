//! Names as Flink reads them: an identifier keeps its case and is compared exactly, quoted
//! or not, so a column declared `emailAddress` is `emailAddress` in every query. DataFusion
//! folds unquoted names to lower case unless told not to; the session tells its parser
//! (`enable_ident_normalization`), and everything the engine resolves itself goes through
//! here, so that one rule holds for tables, columns, windows and watermarks alike.

use datafusion::common::TableReference;
use datafusion::error::Result;
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

/// Whether unquoted names are folded to lower case: not in Flink, so not here.
pub(crate) const FOLD_UNQUOTED_NAMES: bool = false;

/// The table a parsed name refers to.
pub(crate) fn table_reference(name: ObjectName) -> Result<TableReference> {
    object_name_to_table_reference(name, FOLD_UNQUOTED_NAMES)
}

/// The table an `INSERT INTO` writes, if `statement` is one: a table it does not read (a
/// Kafka table is a stream and a sink, and an INSERT into it must not open its source).
pub(crate) fn insert_target(
    statement: &datafusion::sql::parser::Statement,
) -> Option<TableReference> {
    use datafusion::sql::parser::Statement as Parsed;
    use datafusion::sql::sqlparser::ast::{Statement, TableObject};
    let Parsed::Statement(sql) = statement else {
        return None;
    };
    let Statement::Insert(insert) = sql.as_ref() else {
        return None;
    };
    let TableObject::TableName(name) = &insert.table else {
        return None;
    };
    table_reference(name.clone()).ok()
}

/// The tables of `mentioned` a statement reads: all but an INSERT's target.
pub(crate) fn tables_read(
    statement: &datafusion::sql::parser::Statement,
    mentioned: &[TableReference],
) -> Vec<TableReference> {
    let target = insert_target(statement);
    mentioned
        .iter()
        .filter(|table| Some(*table) != target.as_ref())
        .cloned()
        .collect()
}

/// The table a name typed as text refers to (`%table Bids`, `t`, `"my table"`, `s.t`).
pub(crate) fn table_reference_from_text(name: &str) -> TableReference {
    TableReference::parse_str_normalized(name, !FOLD_UNQUOTED_NAMES)
}

/// The name a parsed identifier gives a column.
pub(crate) fn column_name(ident: &Ident) -> String {
    if FOLD_UNQUOTED_NAMES && ident.quote_style.is_none() {
        ident.value.to_lowercase()
    } else {
        ident.value.clone()
    }
}

/// A called function's name, its last part as written (`TUMBLE`, `timestampdiff`).
pub(crate) fn function_name(function: &datafusion::sql::sqlparser::ast::Function) -> String {
    function
        .name
        .0
        .last()
        .and_then(|part| part.as_ident())
        .map(|ident| ident.value.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_case_quoted_or_not() {
        assert_eq!(table_reference_from_text("Bids").table(), "Bids");
        assert_eq!(table_reference_from_text("\"Bids\"").table(), "Bids");
        let qualified = table_reference_from_text("Sales.Bids");
        assert_eq!(qualified.schema(), Some("Sales"));
        assert_eq!(column_name(&Ident::new("dateTime")), "dateTime");
    }
}
