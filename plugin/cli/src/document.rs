//! Reads a file the CLI is given as a [`wsgate_core::document::Document`], its secrets
//! from the process environment.

use std::path::Path;
use wsgate_core::document::{Loaded, load as load_bytes};

pub fn load(path: &Path) -> Result<Loaded, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(load_bytes(&bytes, &|name| std::env::var(name).ok()))
}
