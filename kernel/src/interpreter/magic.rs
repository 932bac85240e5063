//! The magics a cell can start with: the one place that says each magic's name, how it is
//! written and what it does. `%lsmagic`, Tab completion and the unknown-magic error all read
//! this list, so a new magic is one new variant here (the compiler then asks for its help).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Sql,
    Table,
    Markdown,
    Set,
    Config,
    Jobs,
    Cancel,
    Connect,
    Disconnect,
    ListMagics,
}

impl Magic {
    /// Every magic, in the order `%lsmagic` lists them.
    pub const ALL: [Magic; 10] = [
        Magic::Sql,
        Magic::Table,
        Magic::Markdown,
        Magic::Set,
        Magic::Config,
        Magic::Jobs,
        Magic::Cancel,
        Magic::Connect,
        Magic::Disconnect,
        Magic::ListMagics,
    ];

    /// The name as a cell's first line writes it, with its `%`.
    pub fn name(self) -> &'static str {
        match self {
            Magic::Sql => "%sql",
            Magic::Table => "%table",
            Magic::Markdown => "%md",
            Magic::Set => "%set",
            Magic::Config => "%config",
            Magic::Jobs => "%jobs",
            Magic::Cancel => "%cancel",
            Magic::Connect => "%connect",
            Magic::Disconnect => "%disconnect",
            Magic::ListMagics => "%lsmagic",
        }
    }

    /// Other names accepted for it (without `%`).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Magic::Markdown => &["markdown"],
            _ => &[],
        }
    }

    /// How its line is written.
    pub fn syntax(self) -> &'static str {
        match self {
            Magic::Sql => "%sql [--chart KIND --x COL --y COL …] (%sql --help lists the options)",
            Magic::Table => "%table NAME [--chart KIND …], or CSV lines below it",
            Magic::Markdown => "%md",
            Magic::Set => "%set [name=value]",
            Magic::Config => "%config [name=value]",
            Magic::Jobs => "%jobs",
            Magic::Cancel => "%cancel ID|all",
            Magic::Connect => "%connect df://HOST:PORT | flink://HOST:PORT",
            Magic::Disconnect => "%disconnect",
            Magic::ListMagics => "%lsmagic",
        }
    }

    /// What it does, in a sentence.
    pub fn help(self) -> &'static str {
        match self {
            Magic::Sql => "Run SQL statements (the default for a cell without a magic).",
            Magic::Table => {
                "Show a table's source, row count, schema and first rows; with CSV lines \
                 below, make the table from them first."
            }
            Magic::Markdown => "Render the rest of the cell as Markdown.",
            Magic::Set => "Set the value of ${name} in later cells; alone, list the values set.",
            Magic::Config => {
                "Show the settings (max_rows, progress_after_ms, memory_limit), or change one."
            }
            Magic::Jobs => "List the queries over streams started with %sql --background.",
            Magic::Cancel => "Stop background queries.",
            Magic::Connect => {
                "Run what follows elsewhere: %connect df://HOST:PORT sends the batch queries \
                 to a Ballista cluster (eddy cluster scheduler; tables stay declared here), \
                 %connect flink://HOST:PORT every statement to a Flink SQL Gateway."
            }
            Magic::Disconnect => "Run statements in this kernel again.",
            Magic::ListMagics => "List the magics.",
        }
    }

    /// The magic a cell's first line names (without its `%`), if there is one.
    pub fn named(name: &str) -> Option<Magic> {
        Magic::ALL
            .into_iter()
            .find(|magic| &magic.name()[1..] == name || magic.aliases().contains(&name))
    }

    /// Every magic, one line each: its name and what it does.
    pub fn listing() -> Vec<String> {
        Magic::ALL
            .iter()
            .map(|magic| format!("{:<10} {}", magic.name(), magic.help()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_magic_is_found_by_its_name_and_has_syntax_and_help() {
        for magic in Magic::ALL {
            assert_eq!(Magic::named(&magic.name()[1..]), Some(magic));
            assert!(magic.syntax().starts_with(magic.name()), "{magic:?}");
            assert!(magic.help().ends_with('.'), "{magic:?}");
        }
        assert_eq!(Magic::named("markdown"), Some(Magic::Markdown));
        assert_eq!(Magic::named("python"), None);
    }
}
