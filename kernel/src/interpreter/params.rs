//! Parameters, as Zeppelin's dynamic forms had them: `${year=2019}` in a cell stands for
//! the value of `year` (2019 until `%set year=2000` says otherwise).
//!
//! In SQL a value becomes a literal — a number as itself, anything else a quoted string
//! with its quotes doubled — so a value can never change the shape of the statement.

use super::error::CellError;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Parameters {
    values: BTreeMap<String, String>,
}

impl Parameters {
    /// `%set name=value` (spaces around `=` allowed; a quoted value loses its quotes).
    pub fn set(&mut self, assignment: &str) -> Result<(String, String), CellError> {
        let usage = || CellError::Usage {
            magic: "%set",
            message: "write %set name=value, e.g. %set year=2000".to_string(),
        };
        let (name, value) = assignment.split_once('=').ok_or_else(usage)?;
        let name = name.trim();
        if !is_name(name) {
            return Err(usage());
        }
        let value = unquote(value.trim());
        self.values.insert(name.to_string(), value.clone());
        Ok((name.to_string(), value))
    }

    /// Every parameter set so far, as `name = value` lines.
    pub fn listing(&self) -> String {
        if self.values.is_empty() {
            return "No parameters are set. %set name=value sets one.".to_string();
        }
        self.values
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SQL with each `${…}` replaced by a literal.
    pub fn bind_sql(&self, sql: &str) -> Result<String, CellError> {
        self.substitute(sql, sql_literal)
    }

    /// Text (Markdown) with each `${…}` replaced by the value as written.
    pub fn fill_text(&self, text: &str) -> Result<String, CellError> {
        self.substitute(text, str::to_string)
    }

    fn substitute(&self, text: &str, render: fn(&str) -> String) -> Result<String, CellError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(length) = rest[start..].find('}') else {
                break;
            };
            let inside = &rest[start + 2..start + length];
            let (name, default) = match inside.split_once('=') {
                Some((name, default)) => (name.trim(), Some(unquote(default.trim()))),
                None => (inside.trim(), None),
            };
            out.push_str(&rest[..start]);
            if !is_name(name) {
                // Not a parameter (say, `${` inside a string): keep it as it is.
                out.push_str(&rest[start..start + length + 1]);
            } else {
                let value = self.values.get(name).cloned().or(default).ok_or_else(|| {
                    CellError::Usage {
                        magic: "parameters",
                        message: format!(
                            "${{{name}}} has no value: %set {name}=… first, or write ${{{name}=default}}"
                        ),
                    }
                })?;
                out.push_str(&render(&value));
            }
            rest = &rest[start + length + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn unquote(value: &str) -> String {
    for quote in ['\'', '"'] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return value[1..value.len() - 1].to_string();
        }
    }
    value.to_string()
}

fn sql_literal(value: &str) -> String {
    let is_number = value.parse::<i64>().is_ok()
        || (value.parse::<f64>().is_ok_and(f64::is_finite)
            && value
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')));
    if is_number {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_until_a_value_is_set() {
        let mut parameters = Parameters::default();
        let sql = "SELECT * FROM ratings WHERE year = ${year=2019}";
        assert_eq!(
            parameters.bind_sql(sql).unwrap(),
            "SELECT * FROM ratings WHERE year = 2019"
        );
        parameters.set("year = 2000").unwrap();
        assert_eq!(
            parameters.bind_sql(sql).unwrap(),
            "SELECT * FROM ratings WHERE year = 2000"
        );
        assert_eq!(
            parameters.fill_text("# Top of ${year}").unwrap(),
            "# Top of 2000"
        );
    }

    #[test]
    fn text_values_are_bound_as_quoted_literals() {
        let mut parameters = Parameters::default();
        parameters.set("who=x' OR 1=1 --").unwrap();
        assert_eq!(
            parameters.bind_sql("SELECT ${who}").unwrap(),
            "SELECT 'x'' OR 1=1 --'"
        );
        parameters.set("title=Amélie").unwrap();
        assert_eq!(
            parameters.bind_sql("SELECT ${title}").unwrap(),
            "SELECT 'Amélie'"
        );
    }

    #[test]
    fn a_parameter_without_value_is_an_error_that_says_what_to_do() {
        let error = Parameters::default()
            .bind_sql("SELECT ${year}")
            .unwrap_err();
        assert!(error.to_string().contains("%set year="), "{error}");
    }

    #[test]
    fn text_that_is_not_a_parameter_is_kept() {
        let parameters = Parameters::default();
        assert_eq!(
            parameters.bind_sql("SELECT '${ not one }'").unwrap(),
            "SELECT '${ not one }'"
        );
        assert_eq!(parameters.bind_sql("SELECT '${'").unwrap(), "SELECT '${'");
    }
}
