//! A JSON document a person hands to wsgate's tools (the CLI, the playground): a whole
//! plugin configuration (it has `providers`) or a policy document on its own
//! (`policies/*.json`), checked exactly as the filter checks it.

use crate::diagnostics::ConfigError;
use crate::policy::Policy;
use crate::policy::compile::compile;
use crate::policy_config::PolicyConfig;
use crate::session::setup::Environment;
use crate::settings::Settings;
use serde_json::Value;

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

    /// Where the policy's rules are in the document's text (`policy.` in a whole
    /// configuration), for paths that point into it.
    pub fn policy_base(&self) -> &'static str {
        match self {
            Document::Config(_) => "policy.",
            Document::Policy(_) => "",
        }
    }
}

/// The loaded document and its warnings, or every error found.
pub type Loaded = Result<(Document, Vec<ConfigError>), Vec<ConfigError>>;

/// Reads `bytes` as a whole configuration when it has `providers` (secrets from `env`,
/// as the VM's environment would give them), and as a policy document otherwise.
pub fn load(bytes: &[u8], env: Environment<'_>) -> Loaded {
    if is_whole_config(bytes) {
        return Settings::from_json_with_env(bytes, env)
            .map(|settings| {
                let warnings = settings.warnings.clone();
                (Document::Config(Box::new(settings)), warnings)
            })
            .map_err(|errors| errors.0);
    }
    let config: PolicyConfig = crate::diagnostics::from_json(bytes).map_err(|error| vec![error])?;
    let (policy, diagnostics) = compile(&config, "");
    match policy {
        Some(policy) if diagnostics.errors.is_empty() => Ok((Document::Policy(Box::new(policy)), diagnostics.warnings)),
        _ => Err(diagnostics.errors),
    }
}

fn is_whole_config(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v.get("providers").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::setup::no_environment;

    #[test]
    fn a_policy_document_loads_with_its_warnings() {
        let loaded = load(br#"{"rules":[{"name":"a","effect":"allow","subjects":{"authenticated":true}}]}"#, &no_environment);
        let (document, _) = loaded.unwrap();
        assert_eq!(document.policy().rules().len(), 1);
        assert_eq!(document.policy_base(), "");
    }

    #[test]
    fn errors_name_the_field_path() {
        let errors = load(br#"{"rules":[{"name":"a","effect":"alow","subjects":{"authenticated":true}}]}"#, &no_environment).err().unwrap();
        assert_eq!(errors.first().map(|e| e.path.as_str()), Some("rules[0].effect"), "{errors:?}");
    }

    #[test]
    fn a_whole_configuration_puts_its_policy_under_policy() {
        let errors = load(br#"{"providers":[],"policy":{"rules":[{"name":"a","effect":"alow"}]}}"#, &no_environment).err().unwrap();
        assert_eq!(errors.first().map(|e| e.path.as_str()), Some("policy.rules[0].effect"), "{errors:?}");
    }
}
