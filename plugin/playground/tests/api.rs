//! The playground's API natively: the same answers as the core, with places in the
//! text the page can point at.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use serde_json::{Value, json};
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_fixtures::claims::GoogleClaims;
use wsgate_fixtures::configs::{AUDIENCE, google_provider};
use wsgate_playground::api::{Asked, ask, check, compare, matrix};
use wsgate_playground::{ask as ask_exported, check as check_exported};

const GATEWAY: &str = include_str!("../../../policies/multi-service-gateway.json");

/// The text of `span` (UTF-16 offsets) in `text`.
fn at(text: &str, span: Option<wsgate_playground::locate::Span>) -> String {
    let span = span.expect("a place in the text");
    let units: Vec<u16> = text.encode_utf16().collect();
    String::from_utf16_lossy(&units[span.start..span.end])
}

fn asked(email: &str, method: &str, host: &str, path: &str) -> Asked {
    Asked { email: Some(email.to_owned()), method: method.to_owned(), host: host.to_owned(), path: path.to_owned(), ..Asked::default() }
}

#[test]
fn an_error_points_at_its_field_in_the_text() {
    let broken = GATEWAY.replacen(r#""effect": "deny""#, r#""effect": "refuse""#, 1);
    let checked = check(&broken);
    assert!(!checked.ok);
    let error = &checked.errors[0];
    assert_eq!(error.path, "rules[2].effect");
    assert_eq!(at(&broken, error.span), r#""refuse""#);
    assert!(error.text.starts_with("rules[2].effect: "), "{}", error.text);
}

#[test]
fn a_valid_policy_is_ok_with_its_kind() {
    let checked: Value = serde_json::from_str(&check_exported(GATEWAY)).unwrap();
    assert_eq!((checked["ok"].as_bool(), checked["kind"].as_str()), (Some(true), Some("policy")));
}

#[test]
fn a_decision_names_its_rule_and_where_it_is_written() {
    let answer = ask(GATEWAY, &asked("petra@example.com", "PUT", "hr-7hx2k-uc.a.run.app", "/employees/7/salary")).unwrap();
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!((json["outcome"].as_str(), json["code"].as_str(), json["rule"].as_str()), (Some("deny"), Some("denied_by_rule"), Some("hr-salaries-read-only")));
    assert_eq!(json["path"], "/employees/7/salary");
    assert!(at(GATEWAY, answer.rule_span).starts_with("{\n      \"name\": \"hr-salaries-read-only\""));
}

#[test]
fn the_exported_function_answers_json_and_errors_as_json() {
    let question = json!({"email": "fred@example.com", "method": "GET", "host": "billing.example.com", "path": "/invoices"}).to_string();
    let answer: Value = serde_json::from_str(&ask_exported(GATEWAY, &question)).unwrap();
    assert_eq!((answer["outcome"].as_str(), answer["rule"].as_str()), (Some("allow"), Some("billing")));
    let refused: Value = serde_json::from_str(&ask_exported(GATEWAY, r#"{"mail": "x"}"#)).unwrap();
    assert!(refused["error"].as_str().unwrap().contains("unknown field `mail`"), "{refused}");
}

#[test]
fn a_pasted_token_is_verified_against_inline_keys_at_the_chosen_time() {
    let key = SigningKey::generate_rs256("k1").unwrap();
    let policy = json!({"rules": [{"name": "eng", "effect": "allow", "subjects": {"groups": ["eng@example.com"]}}]});
    let config = json!({"providers": [google_provider(AUDIENCE, &jwks(&[&key]))], "policy": policy});
    let text = serde_json::to_string_pretty(&config).unwrap();
    let issued = 1_800_000_000;
    let token = key.sign(&GoogleClaims::id_token("alice@example.com", AUDIENCE, issued).groups(&["eng@example.com"]).build()).unwrap();
    let question = |time: u64| Asked { token: Some(token.clone()), time: Some(time), ..asked("", "GET", "api.example.com", "/") };
    let answer = ask(&text, &question(issued + 10)).unwrap();
    assert!(at(&text, answer.rule_span).contains(r#""name": "eng""#), "the rule is placed under `policy.rules`");
    let fresh = serde_json::to_value(answer).unwrap();
    assert_eq!((fresh["effect"].as_str(), fresh["rule"].as_str()), (Some("allow"), Some("eng")), "{fresh}");
    let later = serde_json::to_value(ask(&text, &question(issued + 86_400)).unwrap()).unwrap();
    assert_eq!((later["effect"].as_str(), later["status"].as_u64()), (Some("deny"), Some(401)), "{later}");
}

#[test]
fn the_matrix_is_the_directory_by_the_rules_requests() {
    let shown = matrix(GATEWAY, "", "").unwrap();
    let rows: Vec<_> = shown.rows.iter().map(|r| r.email.clone()).collect();
    assert_eq!(rows, [Some("fred@example.com".to_owned()), Some("petra@example.com".to_owned()), None], "the directory, then anonymous");
    assert!(shown.columns.iter().any(|c| c.method == "PUT" && c.path == "/employees/1/salary"));
    let fred_billing = shown.columns.iter().position(|c| c.host == "billing.example.com").unwrap();
    assert_eq!(shown.cells[0][fred_billing].outcome, "allow");
    assert_eq!(shown.cells[1][fred_billing].outcome, "deny");
}

#[test]
fn typed_callers_and_requests_replace_the_defaults() {
    let shown = matrix(GATEWAY, "anonymous\nzoe@example.com finance@example.com", "GET billing.example.com /\nGET billing.example.com /a/%2e%2e/b").unwrap();
    assert_eq!(shown.rows.len(), 2);
    assert_eq!((shown.cells[0][0].status, shown.cells[1][0].outcome), (401, "allow"));
    assert_eq!((shown.cells[1][1].status, shown.cells[1][1].code), (400, "ambiguous_path"));
    assert!(matrix(GATEWAY, "", "GET /only-a-path").unwrap_err().contains("METHOD host path"));
}

#[test]
fn a_comparison_marks_exactly_the_cells_a_change_flips() {
    let changed = GATEWAY.replacen(r#""groups": ["finance@example.com"]"#, r#""groups": ["people-team@example.com"]"#, 1);
    let before = matrix(GATEWAY, "", "").unwrap();
    let after = compare(GATEWAY, &changed, "", "").unwrap();
    let mut expected = 0;
    for (row, cells) in after.cells.iter().enumerate() {
        for (column, cell) in cells.iter().enumerate() {
            let was = &before.cells[row][column];
            assert_eq!(cell.before.is_some(), cell.outcome != was.outcome, "row {row} column {column}");
            expected += usize::from(cell.outcome != was.outcome);
        }
    }
    assert_eq!(after.flipped, expected);
    assert_eq!(after.flipped, 4, "billing's two hosts, for fred and for petra");
}

#[test]
fn typed_callers_may_name_their_provider_via_and_domain() {
    let policy = r#"{"rules": [{"name": "iap-only", "effect": "allow", "match": {"providers": ["iap"]}, "subjects": {"domains": ["partner.example"]}}]}"#;
    let shown = matrix(policy, "ann@example.com provider=iap domain=partner.example\nann@example.com provider=google domain=partner.example\nann@example.com", "GET h /").unwrap();
    let outcomes: Vec<&str> = shown.cells.iter().map(|row| row[0].outcome).collect();
    assert_eq!(outcomes, ["allow", "deny", "deny"]);
    assert!(matrix(policy, "ann@example.com colour=blue", "GET h /").unwrap_err().contains("`colour=`"));
}

#[test]
fn a_matrix_too_big_to_read_is_refused_with_what_to_do() {
    let requests: Vec<String> = (0..1000).map(|i| format!("GET h /{i}")).collect();
    let callers: Vec<String> = (0..41).map(|i| format!("u{i}@example.com")).collect();
    let refused = matrix(GATEWAY, &callers.join("\n"), &requests.join("\n")).unwrap_err();
    assert!(refused.contains("41000 cells") && refused.contains("type the callers or requests"), "{refused}");
}

#[test]
fn a_syntax_error_and_a_warning_are_placed_too() {
    let broken = GATEWAY.replacen(r#""name": "hr","#, r#""name": "hr""#, 1);
    let checked = check(&broken);
    assert_eq!(checked.errors[0].path, "rules[1].?");
    assert_eq!(at(&broken, checked.errors[0].span), "\"", "the character serde_json stopped at: {}", checked.errors[0].message);
    let shadowed = r#"{"rules": [
        {"name": "all", "effect": "deny", "subjects": {"authenticated": true}},
        {"name": "some", "effect": "allow", "match": {"paths": [{"prefix": "/a"}]}, "subjects": {"authenticated": true}}
    ]}"#;
    let checked = check(shadowed);
    let warning = checked.warnings.iter().find(|w| w.path.contains("some")).expect("a warning about the shadowed rule");
    assert!(at(shadowed, warning.span).starts_with(r#"{"name": "some""#), "{warning:?}");
}

#[test]
fn a_dry_run_deny_is_allowed_with_its_would_deny_and_the_shorthand_rules_are_placed() {
    let policy = r#"{"public_paths": ["/healthz"], "rules": [{"name": "try", "effect": "deny", "dry_run": true, "subjects": {"authenticated": true}}], "allow": {"domains": ["example.com"]}}"#;
    let answer = serde_json::to_value(ask(policy, &asked("a@example.com", "GET", "h", "/x")).unwrap()).unwrap();
    assert_eq!((answer["effect"].as_str(), answer["outcome"].as_str(), answer["rule"].as_str()), (Some("allow"), Some("would_deny"), Some("allow")), "{answer}");
    assert_eq!(answer["dry_run"], json!(["rule `try` would make it deny"]));
    let answer = ask(policy, &asked("", "GET", "h", "/healthz")).unwrap();
    assert_eq!(at(policy, answer.rule_span), r#"["/healthz"]"#);
}

#[test]
fn a_matrix_cell_only_dry_run_lets_through_is_a_would_deny() {
    let policy = r#"{"rules": [
        {"name": "staff", "effect": "allow", "subjects": {"domains": ["example.com"]}},
        {"name": "beta-off", "effect": "deny", "dry_run": true, "match": {"paths": [{"prefix": "/beta"}]}, "subjects": {"authenticated": true}}
    ]}"#;
    let shown = matrix(policy, "ann@example.com\nanonymous", "GET h /beta\nGET h /stable").unwrap();
    let cells: Vec<Vec<(&str, Option<&str>)>> = shown.cells.iter().map(|row| row.iter().map(|c| (c.outcome, c.rule.as_deref())).collect()).collect();
    assert_eq!(cells, [vec![("would_deny", Some("staff")), ("allow", Some("staff"))], vec![("deny", None), ("deny", None)]]);
}
