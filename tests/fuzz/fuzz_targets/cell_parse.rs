//! A cell's first line and parameters: the magic and its options, `%set` assignments and
//! `${name=default}` placeholders, for any text a user can type.

#![no_main]

use eddy_kernel::interpreter::cell::{self, Magic};
use eddy_kernel::interpreter::params::Parameters;
use eddy_kernel::interpreter::sql_args;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|code: &str| {
    let Ok(cell) = cell::parse(code) else {
        return;
    };
    if cell.magic == Magic::Sql {
        let _ = sql_args::parse(cell.args);
    }
    let mut parameters = Parameters::default();
    let _ = parameters.set(cell.args);
    let _ = parameters.set(cell.body);
    let _ = parameters.listing();
    if let Ok(bound) = parameters.bind_sql(cell.body) {
        // Binding substitutes values; what is left has no placeholder that binds again
        // differently.
        let _ = parameters.bind_sql(&bound);
    }
    let _ = parameters.fill_text(cell.body);
});
