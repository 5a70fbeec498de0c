//! `wsgate validate`: the same checks Envoy's `on_configure` runs, before deploying.

use std::path::Path;
use wsgate_core::Settings;

pub fn validate(path: &Path) -> Result<(), String> {
    let json = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match Settings::from_json(&json) {
        Ok(_) => {
            println!("{}: ok", path.display());
            Ok(())
        }
        Err(errors) => {
            for error in &errors.0 {
                println!("{}: {error}", path.display());
            }
            Err(format!("{} problem(s) in {}", errors.0.len(), path.display()))
        }
    }
}
