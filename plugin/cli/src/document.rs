//! A file the CLI reads: a whole plugin configuration (it has `providers`) or a policy
//! document on its own (`policies/*.json`).

use serde_json::Value;
use std::path::Path;
use wsgate_core::policy::Policy;
use wsgate_core::policy::compile::compile;
use wsgate_core::policy_config::PolicyConfig;
use wsgate_core::{ConfigError, Settings};

pub enum Document {
    Config(Box<Settings>),
    Policy(Box<Policy>),
}

impl Document {
    pub fn policy(&self) -> &Policy {
        match self {
            Document::Config(settings) => &settings.policy,
            Document::Policy(policy) => policy,
        }
    }
}

/// The loaded document and its warnings, or every error found.
pub type Loaded = Result<(Document, Vec<ConfigError>), Vec<ConfigError>>;

pub fn load(path: &Path) -> Result<Loaded, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let is_config = serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| v.get("providers").is_some());
    if is_config {
        return Ok(Settings::from_json_with_env(&bytes, &|name| std::env::var(name).ok()).map(|settings| {
            let warnings = settings.warnings.clone();
            (Document::Config(Box::new(settings)), warnings)
        }).map_err(|errors| errors.0));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let config: PolicyConfig = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(config) => config,
        Err(e) => return Ok(Err(vec![ConfigError { path: e.path().to_string(), message: e.into_inner().to_string() }])),
    };
    let (policy, diagnostics) = compile(&config, "");
    Ok(match policy {
        Some(policy) if diagnostics.errors.is_empty() => Ok((Document::Policy(Box::new(policy)), diagnostics.warnings)),
        _ => Err(diagnostics.errors),
    })
}
