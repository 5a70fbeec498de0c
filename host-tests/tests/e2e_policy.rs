//! Group policies end to end through real Envoy: groups from the token and from a
//! nested directory snapshot, deny reasons with rule names, dry-run, explanations.
//! Run with `make e2e`.

mod support;

use serde_json::{Value, json};
use support::*;
use wsgate_host_tests::http::get;

/// The identity config of the other suite with a group policy in place of `allow`.
fn config_with(policy: Value) -> Value {
    let mut config = plugin_config();
    config["policy"] = policy;
    config
}

fn engineering_policy() -> Value {
    json!({
        "rules": [
            {"name": "health", "match": {"paths": [{"prefix": "/healthz"}]}, "effect": "allow", "subjects": {"anonymous": true}},
            {"name": "engineering", "match": {"paths": [{"prefix": "/eng"}]}, "effect": "allow", "subjects": {"groups": ["eng@example.com"]}},
            {"name": "contractors-out", "effect": "deny", "subjects": {"groups": ["contractors@example.com"]}}
        ],
        "directory": {
            "eng@example.com": ["backend@example.com"],
            "backend@example.com": [{"name": "groups/01/memberships/9", "preferredMemberKey": {"id": "alice@example.com"}, "roles": [{"name": "MEMBER"}], "type": "USER"}]
        },
        "explain_header": "x-wsgate-decision"
    })
}

fn token_with_groups(email: &str, groups: &[&str]) -> String {
    google_token(email, json!({"groups": groups}))
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_nested_directory_member_and_a_token_claimed_member_are_both_admitted() {
    let stack = start("policy_groups", config_with(engineering_policy()));
    // alice is in eng@ only through backend@ in the directory snapshot.
    let response = get(stack.port(), "/eng/build", &[("authorization", &bearer(&alice())), ("x-workspace-groups", "admins@example.com")]).unwrap();
    let headers = upstream_headers(&response);
    assert_eq!(headers["x-workspace-groups"], "eng@example.com", "spoofed groups replaced by the resolved ones");
    assert_eq!(response.header("x-wsgate-decision"), Some("allow; reason=allowed; rule=engineering"));
    // bob is in no directory group, but his token says backend@, which is nested in eng@.
    let bob = token_with_groups("bob@example.com", &["backend@example.com"]);
    let response = get(stack.port(), "/eng/build", &[("authorization", &bearer(&bob))]).unwrap();
    assert_eq!(upstream_headers(&response)["x-workspace-email"], "bob@example.com");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_non_member_gets_403_and_the_decision_log_names_the_rule() {
    let stack = start("policy_non_member", config_with(engineering_policy()));
    let carol = token_with_groups("carol@example.com", &["sales@example.com"]);
    let response = get(stack.port(), "/eng/build", &[("authorization", &bearer(&carol)), ("x-request-id", "carol-1")]).unwrap();
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["error"], "not_allowed");
    assert_eq!(response.header("x-wsgate-decision"), Some("deny; reason=not_allowed; rule=default"));

    let cat = token_with_groups("cat@example.com", &["contractors@example.com", "eng@example.com"]);
    let response = get(stack.port(), "/eng/build", &[("authorization", &bearer(&cat)), ("x-request-id", "cat-1")]).unwrap();
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["error"], "denied_by_rule");

    let decisions = decision_lines(&stack);
    let carol = decisions.iter().find(|d| d["request_id"] == "carol-1").expect("carol's decision is logged");
    assert_eq!((carol["reason"].as_str(), carol["rule"].as_str()), (Some("not_allowed"), Some("default")));
    let cat = decisions.iter().find(|d| d["request_id"] == "cat-1").expect("cat's decision is logged");
    assert_eq!((cat["reason"].as_str(), cat["rule"].as_str()), (Some("denied_by_rule"), Some("contractors-out")));
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.rule.contractors-out.deny", 1), 1);
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.reason.denied_by_rule", 1), 1);
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_dry_run_policy_lets_refused_requests_through_and_counts_them() {
    let mut policy = engineering_policy();
    policy["dry_run"] = json!(true);
    let stack = start("policy_dry_run", config_with(policy));
    let carol = token_with_groups("carol@example.com", &[]);
    let response = get(stack.port(), "/eng/build", &[("authorization", &bearer(&carol)), ("x-request-id", "dry-1")]).unwrap();
    assert_eq!(upstream_headers(&response)["x-workspace-email"], "carol@example.com", "let through to the service");
    let anonymous = get(stack.port(), "/eng/build", &[("x-request-id", "dry-2")]).unwrap();
    assert_eq!(anonymous.status, 200, "even without a token: the whole policy is dry-run");

    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.dry_run.would_deny", 2), 2);
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.reason.dry_run", 2), 2);
    let decisions = decision_lines(&stack);
    let dry = decisions.iter().find(|d| d["request_id"] == "dry-1").expect("logged");
    assert_eq!((dry["decision"].as_str(), dry["reason"].as_str()), (Some("allow"), Some("dry_run")));
    assert_eq!((dry["would_deny"].as_str(), dry["would_deny_rule"].as_str()), (Some("not_allowed"), Some("default")));
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_dry_run_rule_is_logged_and_counted_but_not_enforced() {
    let mut policy = engineering_policy();
    policy["rules"].as_array_mut().unwrap().push(json!(
        {"name": "freeze-eng", "match": {"paths": [{"prefix": "/eng"}], "methods": ["POST"]}, "effect": "deny", "subjects": {"authenticated": true}, "dry_run": true}
    ));
    let stack = start("policy_dry_run_rule", config_with(policy));
    let response = wsgate_host_tests::http::request(stack.port(), "POST", "/eng/deploy", &[("authorization", &bearer(&alice())), ("x-request-id", "freeze-1")]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-wsgate-decision"), Some("allow; reason=allowed; rule=engineering; would_deny=denied_by_rule; would_deny_rule=freeze-eng"));
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.dry_run.would_deny", 1), 1);
    let decisions = decision_lines(&stack);
    let line = decisions.iter().find(|d| d["request_id"] == "freeze-1").expect("logged");
    assert_eq!(line["would_deny_rule"], "freeze-eng");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn an_encoded_dot_segment_cannot_reach_a_protected_path_through_a_public_one() {
    let stack = start("policy_traversal", config_with(engineering_policy()));
    // Envoy's normalize_path decodes %2e and resolves the dot segments, so wsgate sees
    // /eng (and would refuse with 400 ambiguous_path anything it could not resolve).
    for path in ["/healthz/%2e%2e/eng", "/healthz/../eng", "/healthz/%2E%2E/eng/x"] {
        let response = get(stack.port(), path, &[]).unwrap();
        assert!(response.status == 401 || response.status == 400, "{path}: {response:?}");
    }
    assert!(stack.upstream.received().is_empty(), "nothing reached the service");
}
