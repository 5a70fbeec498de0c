//! Warnings about rules that cannot do what their author meant. They do not refuse a
//! policy: `wsgate validate` prints them and the filter logs them at load.

use crate::diagnostics::Diagnostics;
use crate::policy::rule::Rule;
use crate::policy_config::Effect;

/// Adds a warning to `found` for each rule of `rules` (sorted by name) that cannot do
/// what it says.
pub fn warn(rules: &[Rule], default: Effect, found: &mut Diagnostics) {
    for rule in rules {
        let path = format!("rules.{}", rule.name);
        if let Some(deny) = shadowing_deny(rule, rules) {
            found.warning(&path, format!("can never admit anyone: every request it matches is denied by rule `{}`", deny.name));
        } else if rule.effect == Effect::Allow && default == Effect::Allow && !rule.dry_run {
            found.warning(&path, "never changes a decision: the default is already allow");
        }
        if rule.effect == Effect::Deny && rule.subjects.anonymous {
            let message = if rule.via.is_any() {
                "denies everyone, verified or not (`anonymous` matches every caller)"
            } else {
                "denies every verified caller that came this way, and no anonymous one (`match.callers` needs a verified caller): to refuse anonymous callers too, drop `callers`"
            };
            found.warning(&path, message);
        }
    }
}

/// An enforced deny rule that applies to everything `rule` (an allow) applies to.
fn shadowing_deny<'a>(rule: &Rule, rules: &'a [Rule]) -> Option<&'a Rule> {
    if rule.effect != Effect::Allow {
        return None;
    }
    rules.iter().find(|other| other.effect == Effect::Deny && !other.dry_run && rule.within(other))
}
