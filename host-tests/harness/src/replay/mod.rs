//! Replaying traffic through wsgate: case files and Envoy tap traces, run by an
//! [`executor::Executor`], each result compared with what was expected or recorded.

pub mod case;
pub mod executor;
pub mod outcome;
pub mod report;
pub mod tap;

use case::{Case, CaseFile, DEFAULT_TIME};
use executor::Executor;
use outcome::Difference;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wsgate_core::mint::SigningKey;

/// A case ready to run: where it came from, its tokens, and its time.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: String,
    pub case: Case,
    pub tokens: BTreeMap<String, case::TokenSpec>,
    pub time: Option<u64>,
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub source: String,
    pub name: String,
    /// Empty when the case passed.
    pub differences: Vec<Difference>,
}

/// Every case in `paths` (files, or directories of `.json` files, in name order).
pub fn load(paths: &[PathBuf]) -> Result<Vec<Loaded>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    let mut loaded = Vec::new();
    for file in files {
        loaded.extend(load_file(&file)?);
    }
    Ok(loaded)
}

fn load_file(path: &Path) -> Result<Vec<Loaded>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let document: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let source = path.display().to_string();
    if tap::is_tap_trace(&document) {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let case = tap::case_from_trace(document, name).map_err(|e| format!("{source}: {e}"))?;
        return Ok(vec![Loaded { source, case, tokens: BTreeMap::new(), time: None }]);
    }
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    let file: CaseFile = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| format!("{source}: {}: {}", e.path(), e.inner()))?;
    Ok(file.cases.into_iter().map(|case| Loaded { source: source.clone(), time: case.time.or(file.time), case, tokens: file.tokens.clone() }).collect())
}

/// Runs `cases` through `executor`. Tokens are minted with `key` at each case's time
/// (`fallback_time` for cases that name none, e.g. tap traces).
pub fn run(executor: &mut dyn Executor, cases: &[Loaded], key: Option<&SigningKey>, fallback_time: Option<u64>, mut progress: impl FnMut(usize)) -> Vec<CaseResult> {
    cases
        .iter()
        .enumerate()
        .map(|(index, loaded)| {
            progress(index);
            let now = loaded.time.or(fallback_time).unwrap_or(DEFAULT_TIME);
            let differences = match run_one(executor, loaded, key, now) {
                Ok(differences) => differences,
                Err(error) => vec![Difference { field: "run".to_owned(), expected: "a decision".to_owned(), actual: format!("could not run: {error}") }],
            };
            CaseResult { source: loaded.source.clone(), name: loaded.case.name.clone(), differences }
        })
        .collect()
}

fn run_one(executor: &mut dyn Executor, loaded: &Loaded, key: Option<&SigningKey>, now: u64) -> Result<Vec<Difference>, String> {
    let mut tokens = BTreeMap::new();
    for (name, spec) in &loaded.tokens {
        let key = key.ok_or("the case file mints tokens: pass --key")?;
        tokens.insert(name.clone(), spec.mint(key, now)?);
    }
    let headers = loaded.case.headers(&tokens)?;
    let upstream: Vec<(String, String)> = loaded.case.upstream.headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    let outcome = executor.send(&headers, (loaded.case.upstream.status, &upstream), now)?;
    Ok(outcome.differences(&loaded.case.expect))
}
