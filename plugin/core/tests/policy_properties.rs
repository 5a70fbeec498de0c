//! Properties of the policy semantics that no table can cover: rule order never
//! matters, and a matching deny always wins.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use proptest::prelude::*;
use serde_json::{Value, json};
use wsgate_core::policy::Policy;
use wsgate_core::policy::compile::compile;
use wsgate_core::policy::pattern::RequestShape;
use wsgate_core::policy::subjects::Caller;
use wsgate_core::policy_config::{Effect, PolicyConfig};

const HOSTS: [&str; 3] = ["a.example.com", "b.example.com", "x.test"];
const PATHS: [&str; 6] = ["/", "/a", "/a/b", "/a/c", "/c/d", "/a/b/c"];
const METHODS: [&str; 2] = ["GET", "POST"];
/// email, hd, claimed groups; `None` is anonymous.
const CALLERS: [Option<(&str, &str, &[&str])>; 4] = [
    None,
    Some(("alice@example.com", "example.com", &["g1@example.com"])),
    Some(("bob@example.com", "example.com", &["g2@example.com"])),
    Some(("carol@other.test", "other.test", &[])),
];

fn rule_strategy() -> impl Strategy<Value = Value> {
    let host = prop_oneof![Just(json!([])), Just(json!(["a.example.com"])), Just(json!(["*.example.com"]))];
    let path = prop_oneof![
        Just(json!([])),
        Just(json!([{"prefix": "/a"}])),
        Just(json!([{"prefix": "/a/b"}])),
        Just(json!([{"exact": "/a/b"}])),
        Just(json!([{"template": "/a/{x}"}])),
        Just(json!([{"prefix": "/c"}, {"exact": "/"}])),
    ];
    let method = prop_oneof![Just(json!([])), Just(json!(["GET"])), Just(json!(["POST", "GET"]))];
    let subjects = prop_oneof![
        Just(json!({"users": ["alice@example.com"]})),
        Just(json!({"groups": ["g1@example.com"]})),
        Just(json!({"groups": ["g2@example.com", "g1@example.com"]})),
        Just(json!({"domains": ["example.com"]})),
        Just(json!({"authenticated": true})),
        Just(json!({"anonymous": true})),
    ];
    (host, path, method, subjects, any::<bool>()).prop_map(|(hosts, paths, methods, subjects, allow)| {
        json!({"match": {"hosts": hosts, "paths": paths, "methods": methods}, "effect": if allow {"allow"} else {"deny"}, "subjects": subjects})
    })
}

fn named(rules: Vec<Value>) -> Vec<Value> {
    rules
        .into_iter()
        .enumerate()
        .map(|(i, mut rule)| {
            rule["name"] = json!(format!("r{i:02}"));
            rule
        })
        .collect()
}

fn compiled(rules: &[Value], default: &str) -> Policy {
    let config: PolicyConfig = serde_json::from_value(json!({"default": default, "rules": rules})).unwrap();
    let (policy, diagnostics) = compile(&config, "");
    assert!(diagnostics.errors.is_empty(), "{:?}", diagnostics.errors);
    policy.unwrap()
}

fn caller(policy: &Policy, who: Option<(&str, &str, &[&str])>) -> Caller {
    match who {
        None => Caller::anonymous(),
        Some((email, hd, groups)) => {
            let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            policy.caller(Some(email), Some(hd), &groups)
        }
    }
}

/// Every decision of `policy` over the whole request grid, with the deciding rule's name.
fn decisions(policy: &Policy) -> Vec<(Effect, Option<String>)> {
    let mut out = Vec::new();
    for host in HOSTS {
        for path in PATHS {
            for method in METHODS {
                for who in CALLERS {
                    let shape = RequestShape::new(host.as_bytes(), path.as_bytes(), method.as_bytes()).unwrap();
                    let decision = policy.evaluate(&shape, &caller(policy, who));
                    out.push((decision.effect, decision.rule.map(|id| policy.rule_name(id).unwrap().to_string())));
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn shuffling_the_rules_never_changes_any_decision(
        (rules, shuffled) in prop::collection::vec(rule_strategy(), 1..12)
            .prop_map(named)
            .prop_flat_map(|rules| (Just(rules.clone()), Just(rules).prop_shuffle())),
        default_allow in any::<bool>(),
    ) {
        let default = if default_allow { "allow" } else { "deny" };
        prop_assert_eq!(decisions(&compiled(&rules, default)), decisions(&compiled(&shuffled, default)));
    }

    #[test]
    fn adding_a_matching_deny_rule_always_turns_allow_into_deny(
        rules in prop::collection::vec(rule_strategy(), 0..12).prop_map(named),
        default_allow in any::<bool>(),
        host in 0..HOSTS.len(), path in 0..PATHS.len(), method in 0..METHODS.len(), who in 0..CALLERS.len(),
    ) {
        let default = if default_allow { "allow" } else { "deny" };
        let (host, path, method, who) = (HOSTS[host], PATHS[path], METHODS[method], CALLERS[who]);
        let subjects = match who {
            None => json!({"anonymous": true}),
            Some((email, _, _)) => json!({"users": [email]}),
        };
        let mut with_deny = rules.clone();
        with_deny.push(json!({
            "name": "zz-added-deny",
            "match": {"hosts": [host], "paths": [{"exact": path}], "methods": [method]},
            "effect": "deny",
            "subjects": subjects,
        }));
        let shape = RequestShape::new(host.as_bytes(), path.as_bytes(), method.as_bytes()).unwrap();
        let policy = compiled(&with_deny, default);
        prop_assert_eq!(policy.evaluate(&shape, &caller(&policy, who)).effect, Effect::Deny);
    }
}
