//! Live group membership through the gate: which lookups a decision asks for, what it
//! decides while they are under way, after they answer, after the TTL, and when
//! they fail. The lookups themselves are the outbound engine's (`outbound_groups.rs`);
//! here the test answers them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::*;
use wsgate_core::{Action, Gate, Reason, RequestSnapshot};

/// `/admin` is for admins, except contractors; `/reports` for any verified caller.
fn live_gate(lookup_changes: Value) -> Gate {
    live_groups_gate(
        lookup_changes,
        json!([
            {"name": "admins", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "allow", "subjects": {"groups": ["admins@example.com"]}},
            {"name": "no-contractors", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "deny", "subjects": {"groups": ["contractors@example.com"]}},
            {"name": "reports", "match": {"paths": [{"prefix": "/reports"}]}, "effect": "allow", "subjects": {"authenticated": true}}
        ]),
    )
}

fn request(path: &str) -> RequestSnapshot {
    RequestSnapshot::new("GET", "api.example.com", path).with_header("authorization", format!("Bearer {}", rsa_token(&google_claims())))
}

fn status(action: &Action) -> u16 {
    match action {
        Action::Respond(response) => response.status,
        Action::Forward { .. } => 200,
    }
}

fn forwarded_groups(action: &Action) -> Option<String> {
    let Action::Forward { set, .. } = action else { return None };
    set.iter().find(|(n, _)| n == "x-workspace-groups").map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}

/// Answers every lookup the gate asked for: member of the groups in `member_of`.
fn answer(gate: &mut Gate, member_of: &[&str], now: u64) -> Vec<String> {
    let asked = gate.take_group_lookups();
    let mut names = Vec::new();
    for key in &asked {
        let group = gate.group_email(key.group).to_owned();
        gate.group_lookup_done(key, Ok(member_of.contains(&group.as_str())), ms(now));
        names.push(format!("{}:{group}", key.user));
    }
    names.sort();
    names
}

/// Fails every lookup the gate asked for, each on its own.
fn fail_lookups(gate: &mut Gate, now: u64, retry_after: Option<u64>) {
    for key in gate.take_group_lookups() {
        gate.group_lookup_done(&key, Err(retry_after), ms(now));
    }
}

#[test]
fn a_request_no_group_rule_is_about_looks_nothing_up() {
    let mut gate = live_gate(json!({}));
    let verdict = gate.decide(&request("/reports"), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed);
    assert!(!verdict.awaiting_groups);
    assert!(gate.take_group_lookups().is_empty());
}

#[test]
fn the_groups_a_decision_depends_on_are_looked_up_once_then_cached() {
    let mut gate = live_gate(json!({}));
    let first = gate.decide(&request("/admin/users"), ms(NOW));
    assert!(first.awaiting_groups, "{:?}", first.reason);
    // A second request while the lookups are under way shares them.
    assert!(gate.decide(&request("/admin/users"), ms(NOW)).awaiting_groups);
    assert_eq!(answer(&mut gate, &["admins@example.com"], NOW), ["alice@example.com:admins@example.com", "alice@example.com:contractors@example.com"]);
    let verdict = gate.decide(&request("/admin/users"), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed);
    assert_eq!(forwarded_groups(&verdict.action).as_deref(), Some("admins@example.com"));
    assert!(gate.take_group_lookups().is_empty());
    let stats = gate.group_stats();
    assert_eq!((stats.misses, stats.hits), (2, 2));
}

#[test]
fn a_user_removed_from_a_group_is_denied_once_the_ttl_has_passed_not_before() {
    let mut gate = live_gate(json!({}));
    gate.decide(&request("/admin"), ms(NOW));
    answer(&mut gate, &["admins@example.com"], NOW);
    // Removed from admins now: the cached answer holds for the TTL.
    assert_eq!(gate.decide(&request("/admin"), ms(NOW + 59)).reason, Reason::Allowed);
    // The negative answer (contractors) expires first, at 60 s: looked up again, still not a member.
    assert!(gate.decide(&request("/admin"), ms(NOW + 60)).awaiting_groups);
    assert_eq!(answer(&mut gate, &[], NOW + 60), ["alice@example.com:contractors@example.com"]);
    // At 299 s only the negative answer is looked up again: the member answer still holds.
    assert!(gate.decide(&request("/admin"), ms(NOW + 299)).awaiting_groups);
    assert_eq!(answer(&mut gate, &[], NOW + 299), ["alice@example.com:contractors@example.com"]);
    assert_eq!(gate.decide(&request("/admin"), ms(NOW + 299)).reason, Reason::Allowed);
    assert!(gate.decide(&request("/admin"), ms(NOW + 300)).awaiting_groups);
    assert_eq!(answer(&mut gate, &[], NOW + 300), ["alice@example.com:admins@example.com"]);
    let verdict = gate.decide(&request("/admin"), ms(NOW + 300));
    assert_eq!(verdict.reason, Reason::NotAllowed);
    assert_eq!(status(&verdict.action), 403);
}

#[test]
fn an_outage_uses_stale_answers_within_the_bound_then_fails_closed() {
    let mut gate = live_gate(json!({}));
    gate.decide(&request("/admin"), ms(NOW));
    answer(&mut gate, &["admins@example.com"], NOW);
    // Both answers expired; the lookups fail.
    let later = NOW + 300;
    assert!(gate.decide(&request("/admin"), ms(later)).awaiting_groups);
    fail_lookups(&mut gate, later, None);
    let verdict = gate.decide(&request("/admin"), ms(later));
    assert_eq!(verdict.reason, Reason::Allowed, "stale answers within stale_if_error_seconds");
    assert!(gate.group_stats().stale >= 2);
    // A request that cannot wait any more uses the stale answers too.
    assert_eq!(gate.decide_now(&request("/admin"), ms(later + 30)).reason, Reason::Allowed);
    // Past TTL + stale_if_error (the negative answer: 60 + 600) nothing is left to use.
    let beyond = NOW + 660;
    gate.decide(&request("/admin"), ms(beyond));
    fail_lookups(&mut gate, beyond, Some(30));
    let verdict = gate.decide(&request("/admin"), ms(beyond));
    assert_eq!(verdict.reason, Reason::GroupsUnavailable);
    assert_eq!(status(&verdict.action), 403);
    assert!(!verdict.awaiting_groups, "backing off: answered at once");
    assert!(verdict.log_line.unwrap().contains(r#""status":403,"reason":"groups_unavailable""#));
}

#[test]
fn the_failure_mode_may_be_503() {
    let mut gate = live_gate(json!({"on_failure": "unavailable"}));
    gate.decide(&request("/admin"), ms(NOW));
    fail_lookups(&mut gate, NOW, None);
    let verdict = gate.decide(&request("/admin"), ms(NOW));
    assert_eq!(verdict.reason, Reason::GroupsUnavailable);
    assert_eq!(status(&verdict.action), 503);
    assert_eq!(retry_after(&verdict.action).as_deref(), Some("1"), "lookups back off one second after the first failure");
    // A 429's Retry-After (within max_retry_seconds) is passed on to the client.
    fail_lookups(&mut gate, NOW, Some(30));
    gate.decide(&request("/admin"), ms(NOW + 1));
    fail_lookups(&mut gate, NOW + 1, Some(30));
    let verdict = gate.decide(&request("/admin"), ms(NOW + 11));
    assert_eq!(retry_after(&verdict.action).as_deref(), Some("20"));
}

fn retry_after(action: &Action) -> Option<String> {
    let Action::Respond(response) = action else { return None };
    response.headers.iter().find(|(n, _)| n == "retry-after").map(|(_, v)| v.clone())
}

#[test]
fn a_request_that_cannot_wait_is_refused_rather_than_guessed() {
    let mut gate = live_gate(json!({}));
    let verdict = gate.decide_now(&request("/admin"), ms(NOW));
    assert_eq!(verdict.reason, Reason::GroupsUnavailable);
    assert!(!verdict.awaiting_groups);
}

#[test]
fn a_deny_group_is_looked_up_even_when_an_allow_already_matched() {
    // Alice is an admin by the token's groups claim; contractors must still be checked.
    let mut gate = live_gate(json!({}));
    let claims = google_with(json!({"groups": ["admins@example.com"]}));
    let with_claim = RequestSnapshot::new("GET", "api.example.com", "/admin").with_header("authorization", format!("Bearer {}", rsa_token(&claims)));
    assert!(gate.decide(&with_claim, ms(NOW)).awaiting_groups);
    assert_eq!(answer(&mut gate, &["contractors@example.com"], NOW), ["alice@example.com:contractors@example.com"]);
    assert_eq!(gate.decide(&with_claim, ms(NOW)).reason, Reason::DeniedByRule);
}

#[test]
fn a_request_that_cannot_wait_still_starts_its_lookup_for_the_next_one() {
    let mut gate = live_gate(json!({}));
    assert_eq!(gate.decide_now(&request("/admin"), ms(NOW)).reason, Reason::GroupsUnavailable);
    assert_eq!(answer(&mut gate, &["admins@example.com"], NOW).len(), 2, "looked up in the background");
    assert_eq!(gate.decide_now(&request("/admin"), ms(NOW)).reason, Reason::Allowed);
}

#[test]
fn lookups_failing_for_one_cause_back_off_once() {
    let mut gate = live_gate(json!({}));
    gate.decide(&request("/admin"), ms(NOW));
    let keys = gate.take_group_lookups();
    assert_eq!(keys.len(), 2);
    gate.group_lookups_failed(&keys, ms(NOW), None);
    // One failure's backoff (1 s), not two (1 + 2 s).
    assert!(!gate.decide(&request("/admin"), ms(NOW)).awaiting_groups, "backing off");
    assert!(gate.decide(&request("/admin"), ms(NOW + 1)).awaiting_groups, "due again after 1 s");
}

#[test]
fn groups_that_cannot_change_the_enforced_decision_are_not_looked_up() {
    let rule = |name: &str, effect: &str, subjects: Value, dry_run: bool| {
        json!({"name": name, "match": {"paths": [{"prefix": "/x"}]}, "effect": effect, "subjects": subjects, "dry_run": dry_run})
    };
    let group = |g: &str| json!({"groups": [g]});
    let cases = [
        // A deny that matches without any group settles it, whatever the groups.
        (json!([rule("a-deny", "deny", json!({"users": ["alice@example.com"]}), false), rule("b", "deny", group("g@x"), false)]), false),
        // An allow that matches without groups, and no deny that could: settled.
        (json!([rule("a-allow", "allow", json!({"authenticated": true}), false), rule("b", "allow", group("g@x"), false)]), false),
        // A dry-run rule never causes a lookup.
        (json!([rule("a-allow", "allow", json!({"authenticated": true}), false), rule("b", "deny", group("g@x"), true)]), false),
        // Allow by one group, deny by another: "none" and "all" both deny, a mixture allows.
        (json!([rule("a", "allow", group("g@x"), false), rule("b", "deny", group("h@x"), false)]), true),
        // A deny group with an allow already matching: deny wins, so it is asked.
        (json!([rule("a-allow", "allow", json!({"authenticated": true}), false), rule("b", "deny", group("g@x"), false)]), true),
    ];
    for (rules, looked_up) in cases {
        let mut gate = live_groups_gate(json!({}), rules.clone());
        gate.decide(&request("/x"), ms(NOW));
        assert_eq!(!gate.take_group_lookups().is_empty(), looked_up, "{rules}");
    }
}
