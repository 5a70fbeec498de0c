//! The bypasses an outside review found, against the policies we ship: each must be
//! closed by its mechanism (path readings, claimed-group expansion, canonical names),
//! so every spelling of the same request gets the same answer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use wsgate_core::policy::Policy;
use wsgate_core::policy::compile::compile;
use wsgate_core::policy::pattern::RequestShape;
use wsgate_core::policy_config::{Effect, PolicyConfig};

fn shipped(name: &str) -> Policy {
    let text = std::fs::read_to_string(format!("{}/../../policies/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let config: PolicyConfig = serde_json::from_str(&text).unwrap();
    let (policy, diagnostics) = compile(&config, "");
    assert!(diagnostics.errors.is_empty(), "{:?}", diagnostics.errors);
    policy.unwrap()
}

/// The effect and deciding rule; `None` if the path is refused as ambiguous.
fn decide(policy: &Policy, method: &str, host: &str, path: &str, email: &str, groups: &[&str]) -> Option<(Effect, String)> {
    let shape = RequestShape::new(host.as_bytes(), path.as_bytes(), method.as_bytes()).ok()?;
    let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let domain = email.split_once('@').map(|(_, d)| d);
    let decision = policy.evaluate(&shape, &policy.caller(Some(email), domain, &groups));
    Some((decision.effect, decision.rule.map_or("default".into(), |id| policy.rule_name(id).unwrap().to_string())))
}

#[test]
fn admin_writes_stay_denied_however_the_path_is_spelled() {
    let policy = shipped("admin-paths.json");
    let plain = decide(&policy, "POST", "svc", "/api/admin/users", "intern@example.com", &[]);
    assert_eq!(plain, Some((Effect::Deny, "admin-writes-need-admins".into())));
    for path in [
        "/api/admin;x=1/users", "/api/admin;/users", "/api/admin%3Bx=1/users", "/api/admin%3b/users",
        "/api/admin/users/", "/api//admin/users", "/api/admin/users;jsessionid=1", "/API/admin/users",
        "/api/ADMIN/users", "/api/%61dmin/users", "/api;v=2/admin/users", "/api/admin/users?x=/app",
    ] {
        let decision = decide(&policy, "POST", "svc", path, "intern@example.com", &[]);
        assert!(matches!(decision, Some((Effect::Deny, _)) | None), "{path}: {decision:?}");
    }
    // Tomcat's `..;` traversal and double encodings are refused outright.
    for path in ["/app/..;/api/admin/users", "/app/%2e%2e;/api/admin/users", "/app/%252e%252e/api/admin/users"] {
        assert_eq!(decide(&policy, "POST", "svc", path, "intern@example.com", &[]), None, "{path}");
    }
}

#[test]
fn hr_salary_writes_stay_denied_with_a_trailing_slash_or_parameters() {
    let policy = shipped("multi-service-gateway.json");
    let host = "hr-7hx2k-uc.a.run.app";
    for path in ["/employees/7/salary", "/employees/7/salary/", "/employees/7/salary;v=1", "/employees/7;x/salary", "/Employees/7/Salary", "//employees/7/salary"] {
        let decision = decide(&policy, "PUT", host, path, "petra@example.com", &["people-team@example.com"]);
        assert_eq!(decision, Some((Effect::Deny, "hr-salaries-read-only".into())), "{path}");
    }
    // The same host spelled with a trailing dot or upper case is the same host.
    for spelled in ["hr-7hx2k-uc.a.run.app.", "HR-7hx2k-uc.a.run.app:443"] {
        let decision = decide(&policy, "PUT", spelled, "/employees/7/salary", "petra@example.com", &["people-team@example.com"]);
        assert_eq!(decision, Some((Effect::Deny, "hr-salaries-read-only".into())), "{spelled}");
    }
    // Reads are still admitted, in any spelling an upstream routes the same way.
    let read = decide(&policy, "GET", host, "/employees/7/salary/", "petra@example.com", &["people-team@example.com"]);
    assert_eq!(read, Some((Effect::Allow, "hr".into())));
}

#[test]
fn an_allow_needs_every_reading_so_a_public_exact_path_does_not_cover_its_variants() {
    let policy = shipped("public-health.json");
    let text = std::fs::read_to_string(format!("{}/../../policies/public-health.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert!(text.contains("/healthz"), "the fixture policy makes /healthz public");
    let anonymous = |path: &str| {
        let shape = RequestShape::new(b"svc", path.as_bytes(), b"GET").unwrap();
        policy.evaluate(&shape, &wsgate_core::policy::subjects::Caller::anonymous()).effect
    };
    assert_eq!(anonymous("/healthz"), Effect::Allow);
    // A strict upstream (Go's ServeMux with a catch-all `/`) routes these elsewhere.
    for path in ["/healthz/", "/healthz;x", "/HEALTHZ"] {
        assert_eq!(anonymous(path), Effect::Deny, "{path}");
    }
}

#[test]
fn a_pattern_with_upper_case_holds_for_a_lower_case_request_too() {
    let config: PolicyConfig = serde_json::from_value(serde_json::json!({"rules": [
        {"name": "staff", "match": {"paths": [{"prefix": "/api"}]}, "effect": "allow", "subjects": {"authenticated": true}},
        {"name": "reports", "match": {"paths": [{"exact": "/api/Reports/Q3"}]}, "effect": "deny", "subjects": {"authenticated": true}}
    ]})).unwrap();
    let policy = compile(&config, "").0.unwrap();
    // Found by the path_interpretations fuzz target: Express and ASP.NET route this
    // lower-case path to the handler of `/api/Reports/Q3`.
    for path in ["/api/reports/q3", "/API/REPORTS/Q3", "/api/Reports/Q3"] {
        assert_eq!(decide(&policy, "GET", "svc", path, "alice@example.com", &[]).map(|d| d.0), Some(Effect::Deny), "{path}");
    }
    assert_eq!(decide(&policy, "GET", "svc", "/api/reports/q4", "alice@example.com", &[]).map(|d| d.0), Some(Effect::Allow));
}

#[test]
fn a_member_email_claimed_as_a_group_grants_nothing() {
    let policy = shipped("demo.json");
    let as_alice = decide(&policy, "GET", "127.0.0.1", "/eng", "alice@example.com", &[]);
    assert_eq!(as_alice.map(|d| d.0), Some(Effect::Allow), "alice is in eng@ through the directory");
    let carol_claiming_alice = decide(&policy, "GET", "127.0.0.1", "/eng", "carol@example.com", &["alice@example.com"]);
    assert_eq!(carol_claiming_alice.map(|d| d.0), Some(Effect::Deny));
}

#[test]
fn emails_and_domains_compare_in_canonical_form() {
    let policy = shipped("admin-paths.json");
    for intern in ["Intern@Example.COM", "intern@example.com."] {
        let decision = decide(&policy, "POST", "svc", "/api/admin/users", intern, &[]);
        assert_eq!(decision, Some((Effect::Deny, "admin-writes-need-admins".into())), "{intern}");
    }
}

// --- Found by the review of the fixes above -------------------------------------------

#[test]
fn a_method_in_another_case_or_overridden_is_still_denied() {
    let policy = shipped("admin-paths.json");
    for method in ["post", "Post", "delete"] {
        let decision = decide(&policy, method, "svc", "/api/admin/users", "intern@example.com", &[]);
        assert_eq!(decision.map(|d| d.0), Some(Effect::Deny), "{method}");
    }
    let shape = RequestShape::read(b"svc", b"/api/admin/users", b"GET", &[b"DELETE"]).unwrap();
    let caller = policy.caller(Some("intern@example.com"), Some("example.com"), &[]);
    assert_eq!(policy.evaluate(&shape, &caller).effect, Effect::Deny, "GET with X-HTTP-Method-Override: DELETE");
}

#[test]
fn head_is_judged_as_the_get_it_is_routed_to() {
    let config: PolicyConfig = serde_json::from_value(serde_json::json!({"default": "allow", "rules": [
        {"name": "no-export", "match": {"paths": [{"prefix": "/export"}], "methods": ["GET"]}, "effect": "deny", "subjects": {"authenticated": true}}
    ]})).unwrap();
    let policy = compile(&config, "").0.unwrap();
    assert_eq!(decide(&policy, "HEAD", "svc", "/export/all", "alice@example.com", &[]).map(|d| d.0), Some(Effect::Deny));
}

#[test]
fn a_pattern_with_a_trailing_slash_holds_for_the_path_without_it() {
    let config: PolicyConfig = serde_json::from_value(serde_json::json!({"default": "allow", "rules": [
        {"name": "docs", "match": {"paths": [{"exact": "/docs/"}, {"template": "/users/{id}/"}, {"template": "/"}]}, "effect": "deny", "subjects": {"authenticated": true}}
    ]})).unwrap();
    let policy = compile(&config, "").0.unwrap();
    for path in ["/docs/", "/docs", "/Docs", "/docs;x", "/users/7/", "/users/7", "/", "//", "/;x"] {
        assert_eq!(decide(&policy, "GET", "svc", path, "alice@example.com", &[]).map(|d| d.0), Some(Effect::Deny), "{path}");
    }
}

#[test]
fn a_host_of_many_dots_costs_no_more_than_a_short_one() {
    let policy = shipped("multi-service-gateway.json");
    let host = format!("{}internal.example.com", "a.".repeat(30_000));
    let started = std::time::Instant::now();
    // Refused as malformed before any rule is looked at; and the index only looks up
    // suffixes as long as its keys, whatever reaches it.
    assert!(RequestShape::read(host.as_bytes(), b"/", b"GET", &[]).is_err());
    let caller = policy.caller(Some("ann@example.com"), Some("example.com"), &[]);
    let shape = RequestShape { host: host.clone(), ..RequestShape::new(b"svc", b"/A/b;c/", b"GET").unwrap() };
    policy.evaluate(&shape, &caller);
    assert!(started.elapsed() < std::time::Duration::from_millis(500), "{:?}", started.elapsed());
}
