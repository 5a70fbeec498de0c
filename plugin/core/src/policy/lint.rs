//! Warnings about rules that cannot do what their author meant. They do not refuse a
//! policy: `wsgate validate` prints them and the filter logs them at load.

use crate::policy::rule::Rule;
use crate::policy_config::Effect;
use crate::settings::ConfigError;

/// `rules` sorted by name; `base` prefixes the field paths.
pub fn warnings(rules: &[Rule], default: Effect, base: &str) -> Vec<ConfigError> {
    let mut warnings = Vec::new();
    for rule in rules {
        let warn = |message: String| ConfigError { path: format!("{base}rules.{}", rule.name), message };
        if let Some(deny) = shadowing_deny(rule, rules) {
            warnings.push(warn(format!("can never admit anyone: every request it matches is denied by rule `{}`", deny.name)));
        } else if rule.effect == Effect::Allow && default == Effect::Allow && !rule.dry_run {
            warnings.push(warn("never changes a decision: the default is already allow".to_owned()));
        }
        if rule.effect == Effect::Deny && rule.subjects.anonymous {
            warnings.push(warn("denies everyone, verified or not (`anonymous` matches every caller)".to_owned()));
        }
    }
    warnings
}

/// An enforced deny rule that applies to everything `rule` (an allow) applies to.
fn shadowing_deny<'a>(rule: &Rule, rules: &'a [Rule]) -> Option<&'a Rule> {
    if rule.effect != Effect::Allow {
        return None;
    }
    rules.iter().find(|other| other.effect == Effect::Deny && !other.dry_run && rule.within(other))
}
