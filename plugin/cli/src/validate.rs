//! `wsgate validate`: the checks Envoy's `on_configure` runs, before deploying, plus
//! warnings about rules that cannot do what they say.

use crate::document::load;
use std::path::Path;

pub fn validate(path: &Path) -> Result<(), String> {
    let shown = path.display();
    match load(path)? {
        Ok((_, warnings)) => {
            for warning in &warnings {
                println!("{shown}: warning: {warning}");
            }
            println!("{shown}: ok");
            Ok(())
        }
        Err(errors) => {
            for error in &errors {
                println!("{shown}: {error}");
            }
            Err(format!("{} problem(s) in {shown}", errors.len()))
        }
    }
}
