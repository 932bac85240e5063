//! A cell's first line picks what runs it: a magic (`%table`, `%md`, …; see [`Magic`]), or
//! none for SQL.

use super::error::CellError;
pub use super::magic::Magic;

/// A cell split into its magic, the magic's arguments and the body below.
#[derive(Debug, PartialEq, Eq)]
pub struct Cell<'a> {
    pub magic: Magic,
    /// The rest of the magic line.
    pub args: &'a str,
    pub body: &'a str,
    /// Lines of the cell above `body`, to turn body positions into cell positions.
    pub body_line_offset: usize,
}

pub fn parse(code: &str) -> Result<Cell<'_>, CellError> {
    let trimmed = code.trim_start_matches(['\n', '\r']);
    let skipped_lines = code[..code.len() - trimmed.len()]
        .chars()
        .filter(|&c| c == '\n')
        .count();
    let first_line = trimmed.lines().next().unwrap_or("");
    let Some(magic_line) = first_line.trim_start().strip_prefix('%') else {
        return Ok(Cell {
            magic: Magic::Sql,
            args: "",
            body: code,
            body_line_offset: 0,
        });
    };
    // `%%sql` is accepted too: it is what IPython users' fingers type.
    let magic_line = magic_line.strip_prefix('%').unwrap_or(magic_line);
    let (name, args) = magic_line
        .split_once(char::is_whitespace)
        .unwrap_or((magic_line, ""));
    let magic = Magic::named(name).ok_or_else(|| CellError::UnknownMagic {
        name: format!("%{name}"),
    })?;
    let body = trimmed.split_once('\n').map(|(_, rest)| rest).unwrap_or("");
    Ok(Cell {
        magic,
        args: args.trim(),
        body,
        body_line_offset: skipped_lines + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_without_magic_is_sql() {
        let cell = parse("SELECT 1").unwrap();
        assert_eq!(cell.magic, Magic::Sql);
        assert_eq!(cell.body, "SELECT 1");
        assert_eq!(cell.body_line_offset, 0);
    }

    #[test]
    fn the_first_line_picks_the_magic() {
        let cell = parse("%md\n# Title\ntext").unwrap();
        assert_eq!(cell.magic, Magic::Markdown);
        assert_eq!(cell.body, "# Title\ntext");
        assert_eq!(cell.body_line_offset, 1);

        let cell = parse("\n%%sql\nSELECT 2").unwrap();
        assert_eq!(cell.magic, Magic::Sql);
        assert_eq!(cell.body, "SELECT 2");
        assert_eq!(cell.body_line_offset, 2);

        let cell = parse("%table  movies ").unwrap();
        assert_eq!(cell.magic, Magic::Table);
        assert_eq!(cell.args, "movies");
        assert_eq!(cell.body, "");
    }

    #[test]
    fn an_unknown_magic_is_an_error() {
        assert!(matches!(
            parse("%python\nprint(1)"),
            Err(CellError::UnknownMagic { name }) if name == "%python"
        ));
    }
}
