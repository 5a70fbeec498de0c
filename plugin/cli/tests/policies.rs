//! Every file in `policies/` is valid, warning-free, and decides as its comments say:
//! checked through `wsgate validate` and `wsgate explain`, as an author would.

use std::path::PathBuf;
use std::process::Command;

fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn wsgate(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wsgate")).args(args).output().unwrap();
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

#[test]
fn every_policy_file_validates_without_warnings() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(policies_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected the example policies, found {files:?}");
    for file in files {
        let (ok, output) = wsgate(&["validate", file.to_str().unwrap()]);
        assert!(ok, "{output}");
        assert!(!output.contains("warning"), "{output}");
    }
}

/// (file, explain arguments, expected decision line, expected rule)
const CASES: &[(&str, &[&str], &str, &str)] = &[
    ("demo.json", &["--path", "/healthz"], "allow (200 public_path)", "health"),
    ("demo.json", &["--email", "alice@example.com", "--path", "/eng/x"], "allow (200 allowed)", "engineering"),
    ("demo.json", &["--email", "pat@partner.example", "--path", "/eng"], "deny (403 not_allowed)", "default"),
    ("engineering-internal-api.json", &["--email", "sam@example.com", "--host", "internal-api.example.com", "--path", "/v1"], "allow (200 allowed)", "engineering"),
    ("engineering-internal-api.json", &["--email", "sam@example.com", "--host", "other.example.com", "--path", "/v1"], "deny (403 not_allowed)", "default"),
    ("engineering-internal-api.json", &["--email", "zoe@example.com", "--group", "frontend@example.com", "--host", "internal-api.example.com"], "allow (200 allowed)", "engineering"),
    ("engineering-internal-api.json", &["--host", "internal-api.example.com", "--path", "/v1"], "deny (401 missing_token)", "default"),
    ("admin-paths.json", &["--email", "olivia@example.com", "--path", "/admin/users"], "allow (200 allowed)", "admin-console"),
    ("admin-paths.json", &["--email", "bob@example.com", "--path", "/admin/users"], "deny (403 not_allowed)", "default"),
    ("admin-paths.json", &["--email", "intern@example.com", "--method", "DELETE", "--path", "/api/admin/x"], "deny (403 denied_by_rule)", "admin-writes-need-admins"),
    // The review's bypasses: the same requests with path parameters and trailing slashes.
    ("admin-paths.json", &["--email", "intern@example.com", "--method", "POST", "--path", "/api/admin;x=1/users"], "deny (403 denied_by_rule)", "admin-writes-need-admins"),
    ("admin-paths.json", &["--email", "intern@example.com", "--method", "POST", "--path", "/api/admin%3B/users"], "deny (403 denied_by_rule)", "admin-writes-need-admins"),
    ("multi-service-gateway.json", &["--email", "petra@example.com", "--host", "hr-7hx2k-uc.a.run.app", "--method", "PUT", "--path", "/employees/7/salary/"], "deny (403 denied_by_rule)", "hr-salaries-read-only"),
    ("multi-service-gateway.json", &["--email", "petra@example.com", "--host", "hr-7hx2k-uc.a.run.app", "--method", "PUT", "--path", "/employees/7/salary;v=1"], "deny (403 denied_by_rule)", "hr-salaries-read-only"),
    ("contractors-denied.json", &["--email", "vince@example.com", "--path", "/anything"], "deny (403 denied_by_rule)", "contractors-out"),
    ("contractors-denied.json", &["--email", "alice@example.com", "--path", "/anything"], "allow (200 allowed)", "staff"),
    ("public-health.json", &["--method", "HEAD", "--path", "/readyz"], "allow (200 public_path)", "probes"),
    ("public-health.json", &["--method", "POST", "--path", "/healthz"], "deny (401 missing_token)", "default"),
    ("multi-service-gateway.json", &["--email", "fred@example.com", "--host", "billing-7hx2k-uc.a.run.app"], "allow (200 allowed)", "billing"),
    ("multi-service-gateway.json", &["--email", "fred@example.com", "--host", "hr-7hx2k-uc.a.run.app"], "deny (403 not_allowed)", "default"),
    ("multi-service-gateway.json", &["--email", "petra@example.com", "--host", "hr-7hx2k-uc.a.run.app", "--method", "PUT", "--path", "/employees/7/salary"], "deny (403 denied_by_rule)", "hr-salaries-read-only"),
    ("multi-service-gateway.json", &["--email", "ann@example.com", "--host", "wiki.internal.example.com"], "allow (200 allowed)", "internal-tools"),
    ("service-to-service.json", &["--email", "scheduler@ops-prod.iam.gserviceaccount.com", "--method", "POST", "--path", "/v1/jobs/42/run"], "allow (200 allowed)", "scheduler-runs-jobs"),
    ("service-to-service.json", &["--email", "worker-3@batch-prod.iam.gserviceaccount.com", "--method", "POST", "--path", "/v1/reports/daily"], "allow (200 allowed)", "batch-workers-report"),
    ("service-to-service.json", &["--email", "worker-3@batch-prod.iam.gserviceaccount.com", "--method", "POST", "--path", "/v1/jobs/42/run"], "deny (403 not_allowed)", "default"),
    ("rollout-dry-run.json", &["--email", "eve@example.com", "--path", "/ledger/2026"], "deny (403 not_allowed)", "default"),
    // Callers from Google Workspace: each admitted only through its own product.
    ("chat-app.json", &["--email", "chat@system.gserviceaccount.com", "--via", "helpdesk-chat", "--method", "POST", "--path", "/chat/events"], "allow (200 allowed)", "helpdesk-chat-events"),
    ("chat-app.json", &["--email", "chat@system.gserviceaccount.com", "--method", "POST", "--path", "/chat/events"], "deny (403 not_allowed)", "default"),
    ("chat-app.json", &["--email", "dana@example.com", "--via", "helpdesk-chat", "--path", "/admin"], "deny (403 not_allowed)", "default"),
    ("chat-app.json", &["--email", "dana@example.com", "--path", "/admin"], "allow (200 allowed)", "helpdesk-admins"),
    ("workspace-addon-finance.json", &["--email", "alice@example.com", "--via", "expenses-addon", "--method", "POST", "--path", "/addon/claims"], "allow (200 allowed)", "expenses-for-finance"),
    ("workspace-addon-finance.json", &["--email", "alice@example.com", "--method", "POST", "--path", "/addon/claims"], "deny (403 not_allowed)", "default"),
    ("workspace-addon-finance.json", &["--email", "bob@example.com", "--via", "expenses-addon", "--method", "POST", "--path", "/addon/claims"], "deny (403 not_allowed)", "default"),
    ("workspace-addon-finance.json", &["--email", "frank@example.com", "--via", "expenses-addon", "--method", "POST", "--path", "/addon/claims"], "deny (403 denied_by_rule)", "no-contractors-through-the-addon"),
    ("pubsub-push.json", &["--email", "orders-push@orders-prod.iam.gserviceaccount.com", "--via", "orders-push", "--method", "POST", "--path", "/pubsub/orders"], "allow (200 allowed)", "orders-push-delivery"),
    ("pubsub-push.json", &["--email", "orders-push@orders-prod.iam.gserviceaccount.com", "--method", "POST", "--path", "/pubsub/orders"], "deny (403 not_allowed)", "default"),
    ("pubsub-push.json", &["--email", "orders-push@orders-prod.iam.gserviceaccount.com", "--via", "orders-push", "--method", "POST", "--path", "/admin"], "deny (403 not_allowed)", "default"),
    ("apps-script.json", &["--email", "carol@example.com", "--via", "budget-sheet-script", "--path", "/budgets/2027"], "allow (200 allowed)", "budget-script-reads"),
    ("apps-script.json", &["--email", "carol@example.com", "--path", "/budgets/2027"], "deny (403 not_allowed)", "default"),
    ("apps-script.json", &["--email", "mallory@example.net", "--via", "budget-sheet-script", "--path", "/budgets/2027"], "deny (403 not_allowed)", "default"),
];

#[test]
fn each_policy_explains_its_intended_decisions() {
    for (file, args, decision, rule) in CASES {
        let path = policies_dir().join(file);
        let mut all = vec!["explain", path.to_str().unwrap()];
        all.extend_from_slice(args);
        let (ok, output) = wsgate(&all);
        assert!(ok, "{file} {args:?}: {output}");
        assert!(output.contains(&format!("decision: {decision}\n")), "{file} {args:?}: expected {decision}\n{output}");
        assert!(output.contains(&format!("rule:     {rule}\n")), "{file} {args:?}: expected rule {rule}\n{output}");
    }
}

#[test]
fn explain_says_when_the_policy_is_only_dry_run() {
    let path = policies_dir().join("rollout-dry-run.json");
    let (_, output) = wsgate(&["explain", path.to_str().unwrap(), "--email", "eve@example.com", "--path", "/ledger"]);
    assert!(output.contains("the filter lets this through and logs would_deny=not_allowed"), "{output}");
}

#[test]
fn validate_reports_a_broken_template_with_its_field_path() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("broken-policy.json");
    std::fs::write(&file, r#"{"rules": [{"name": "a", "effect": "allow", "subjects": {"authenticated": true}},
        {"name": "b", "match": {"paths": [{"template": "/users/{id/x"}]}, "effect": "allow", "subjects": {"authenticated": true}}]}"#).unwrap();
    let (ok, output) = wsgate(&["validate", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(output.contains("rules[1].match.paths[0].template: template has an unclosed '{'"), "{output}");
}

#[test]
fn validate_prints_warnings_but_succeeds() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("shadowed-policy.json");
    std::fs::write(&file, r#"{"rules": [
        {"name": "admins", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "allow", "subjects": {"groups": ["admins@example.com"]}},
        {"name": "lockdown", "effect": "deny", "subjects": {"domains": ["example.com"], "groups": ["admins@example.com"]}}]}"#).unwrap();
    let (ok, output) = wsgate(&["validate", file.to_str().unwrap()]);
    assert!(ok, "{output}");
    assert!(output.contains("warning: rules.admins: can never admit anyone: every request it matches is denied by rule `lockdown`"), "{output}");
}
