//! The policy language, table-driven: every match kind, every subject kind, nested
//! groups, cycles, dry-run, default allow and deny.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use serde_json::{Value, json};
use wsgate_core::policy::Policy;
use wsgate_core::policy::compile::compile;
use wsgate_core::policy::pattern::RequestShape;
use wsgate_core::policy::subjects::Caller;
use wsgate_core::policy_config::{Effect, PolicyConfig};

fn policy(document: Value) -> Policy {
    let config: PolicyConfig = serde_json::from_value(document).unwrap();
    let (policy, diagnostics) = compile(&config, "");
    assert!(diagnostics.errors.is_empty(), "{:?}", diagnostics.errors);
    policy.unwrap()
}

fn errors(document: Value) -> Vec<String> {
    let config: PolicyConfig = serde_json::from_value(document).unwrap();
    compile(&config, "").1.errors.iter().map(ToString::to_string).collect()
}

/// Who calls: `None` is anonymous; otherwise email, hd and claimed groups.
type Who<'a> = Option<(&'a str, Option<&'a str>, &'a [&'a str])>;

fn decide(policy: &Policy, method: &str, host: &str, path: &str, who: Who) -> (Effect, String) {
    let shape = RequestShape::new(host.as_bytes(), path.as_bytes(), method.as_bytes()).unwrap();
    let caller = match who {
        None => Caller::anonymous(),
        Some((email, hd, groups)) => {
            let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            policy.caller(Some(email), hd, &groups)
        }
    };
    let decision = policy.evaluate(&shape, &caller);
    let rule = decision.rule.map_or("default".to_owned(), |id| policy.rule_name(id).unwrap().to_string());
    (decision.effect, rule)
}

const ALLOW: Effect = Effect::Allow;
const DENY: Effect = Effect::Deny;
const ALICE: Who = Some(("alice@example.com", Some("example.com"), &[]));
const ADMIN: Who = Some(("root@example.com", Some("example.com"), &["admins@example.com"]));
const CONTRACTOR: Who = Some(("cat@example.com", Some("example.com"), &["contractors@example.com"]));
const OUTSIDER: Who = Some(("eve@other.example", Some("other.example"), &[]));

fn company_policy() -> Policy {
    policy(json!({
        "rules": [
            {"name": "health", "match": {"paths": [{"exact": "/healthz"}]}, "effect": "allow", "subjects": {"anonymous": true}},
            {"name": "staff-read", "match": {"hosts": ["api.example.com"], "methods": ["GET", "HEAD"]}, "effect": "allow", "subjects": {"domains": ["example.com"]}},
            {"name": "admin", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "allow", "subjects": {"groups": ["admins@example.com"]}},
            {"name": "no-admin-for-others", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "deny", "subjects": {"groups": ["contractors@example.com"]}},
            {"name": "reports", "match": {"hosts": ["*.run.app"], "paths": [{"template": "/users/{id}/reports"}]}, "effect": "allow", "subjects": {"users": ["alice@example.com"]}},
            {"name": "batch", "match": {"methods": ["POST"], "paths": [{"prefix": "/jobs"}]}, "effect": "allow", "subjects": {"service_accounts": ["*@batch-proj.iam.gserviceaccount.com", "ci@build.iam.gserviceaccount.com"]}},
            {"name": "contractors-out", "effect": "deny", "subjects": {"groups": ["contractors@example.com"]}}
        ]
    }))
}

#[test]
fn each_match_and_subject_kind_decides_as_written() {
    let policy = company_policy();
    let cases: &[(&str, &str, &str, &str, Who, Effect, &str)] = &[
        ("exact path, anonymous", "GET", "api.example.com", "/healthz", None, ALLOW, "health"),
        ("exact path is not a prefix", "GET", "api.example.com", "/healthz/x", None, DENY, "default"),
        ("host + methods + domain", "GET", "api.example.com", "/docs", ALICE, ALLOW, "staff-read"),
        ("host matches without its port", "HEAD", "API.example.com:443", "/docs", ALICE, ALLOW, "staff-read"),
        ("method outside the rule", "DELETE", "api.example.com", "/docs", ALICE, DENY, "default"),
        ("another host", "GET", "other.example.com", "/docs", ALICE, DENY, "default"),
        ("another domain", "GET", "api.example.com", "/docs", OUTSIDER, DENY, "default"),
        ("prefix + group", "DELETE", "x", "/admin/users", ADMIN, ALLOW, "admin"),
        ("prefix is segment-wise", "GET", "x", "/administer", ADMIN, DENY, "default"),
        ("group missing", "GET", "x", "/admin", ALICE, DENY, "default"),
        ("template + subdomain host + user", "GET", "hello-x.a.run.app", "/users/7/reports", ALICE, ALLOW, "reports"),
        ("template needs every segment", "GET", "hello-x.a.run.app", "/users/7", ALICE, DENY, "default"),
        ("service account pattern", "POST", "x", "/jobs/run", Some(("job-1@batch-proj.iam.gserviceaccount.com", None, &[])), ALLOW, "batch"),
        ("exact service account", "POST", "x", "/jobs", Some(("ci@build.iam.gserviceaccount.com", None, &[])), ALLOW, "batch"),
        ("look-alike service account", "POST", "x", "/jobs", Some(("job@evil-batch-proj.iam.gserviceaccount.com", None, &[])), DENY, "default"),
        ("deny wins over allow", "GET", "api.example.com", "/docs", CONTRACTOR, DENY, "contractors-out"),
        ("deny wins on public paths for known callers", "GET", "x", "/healthz", CONTRACTOR, DENY, "contractors-out"),
        ("lowest-named deny is reported", "GET", "x", "/admin", CONTRACTOR, DENY, "contractors-out"),
        ("anonymous outside public paths", "GET", "api.example.com", "/docs", None, DENY, "default"),
    ];
    for (what, method, host, path, who, effect, rule) in cases {
        assert_eq!(decide(&policy, method, host, path, *who), (*effect, rule.to_string()), "{what}");
    }
}

#[test]
fn the_authenticated_subject_admits_every_verified_caller_but_not_anonymous_ones() {
    let policy = policy(json!({"rules": [{"name": "any", "effect": "allow", "subjects": {"authenticated": true}}]}));
    assert_eq!(decide(&policy, "GET", "h", "/", OUTSIDER).0, ALLOW);
    assert_eq!(decide(&policy, "GET", "h", "/", None).0, DENY);
}

#[test]
fn default_allow_admits_what_no_deny_catches() {
    let policy = policy(json!({
        "default": "allow",
        "rules": [{"name": "no-contractors", "effect": "deny", "subjects": {"groups": ["contractors@example.com"]}}]
    }));
    assert_eq!(decide(&policy, "GET", "h", "/", ALICE), (ALLOW, "default".into()));
    assert_eq!(decide(&policy, "GET", "h", "/", None), (ALLOW, "default".into()));
    assert_eq!(decide(&policy, "GET", "h", "/", CONTRACTOR), (DENY, "no-contractors".into()));
}

#[test]
fn nested_directory_groups_count_for_their_members_and_for_claimed_groups() {
    let policy = policy(json!({
        "rules": [{"name": "eng", "effect": "allow", "subjects": {"groups": ["eng@example.com"]}}],
        "directory": {
            "eng@example.com": ["backend@example.com", "frontend@example.com"],
            "backend@example.com": [
                {"name": "groups/01/memberships/1", "preferredMemberKey": {"id": "Bob@Example.com"}, "roles": [{"name": "MEMBER"}], "type": "USER"},
                {"name": "groups/01/memberships/2", "preferredMemberKey": {"id": "sre@example.com"}, "roles": [{"name": "MEMBER"}], "type": "GROUP"}
            ],
            "sre@example.com": ["sam@example.com"],
            "frontend@example.com": [],
            "ops@example.com": ["eng@example.com", {"name": "groups/02/memberships/1", "preferredMemberKey": {"id": "oncall@example.com"}, "type": "GROUP"}]
        }
    }));
    assert_eq!(decide(&policy, "GET", "h", "/", Some(("bob@example.com", None, &[]))).0, ALLOW, "direct via gcloud membership");
    assert_eq!(decide(&policy, "GET", "h", "/", Some(("sam@example.com", None, &[]))).0, ALLOW, "two levels down");
    assert_eq!(decide(&policy, "GET", "h", "/", Some(("zed@example.com", None, &["frontend@example.com"]))).0, ALLOW, "claimed subgroup");
    assert_eq!(decide(&policy, "GET", "h", "/", Some(("zed@example.com", None, &["eng@example.com"]))).0, ALLOW, "claimed group itself");
    assert_eq!(decide(&policy, "GET", "h", "/", ALICE).0, DENY);
    // A claimed name expands only as a group of the snapshot: a member's email grants
    // nothing, and a group declared `type: GROUP` counts with its parents only.
    assert_eq!(decide(&policy, "GET", "h", "/", Some(("zed@example.com", None, &["bob@example.com"]))).0, DENY, "a member's email claimed as a group");
    assert_eq!(decide(&policy, "GET", "h", "/", Some(("zed@example.com", None, &["oncall@example.com"]))).0, DENY, "ops@ is not referenced");
}

#[test]
fn a_membership_cycle_is_refused_at_load_time() {
    let errors = errors(json!({
        "allow": {"authenticated": true},
        "directory": {"a@example.com": ["b@example.com"], "b@example.com": ["a@example.com"]}
    }));
    assert_eq!(errors, ["directory.a@example.com: membership cycle: a@example.com → b@example.com → a@example.com"]);
}

#[test]
fn a_dry_run_rule_is_reported_but_not_enforced() {
    let policy = policy(json!({
        "rules": [
            {"name": "staff", "effect": "allow", "subjects": {"domains": ["example.com"]}},
            {"name": "lockdown", "effect": "deny", "subjects": {"users": ["alice@example.com"]}, "dry_run": true}
        ]
    }));
    let shape = RequestShape::new(b"h", b"/", b"GET").unwrap();
    let decision = policy.evaluate(&shape, &policy.caller(Some("alice@example.com"), Some("example.com"), &[]));
    assert_eq!(decision.effect, ALLOW);
    let (effect, rule) = decision.dry_run.unwrap();
    assert_eq!((effect, policy.rule_name(rule.unwrap()).unwrap().as_ref()), (DENY, "lockdown"));
}

#[test]
fn field_paths_name_every_mistake() {
    let errors = errors(json!({
        "rules": [
            {"name": "ok", "effect": "allow", "subjects": {"authenticated": true}},
            {"name": "bad name!", "effect": "allow", "subjects": {}},
            {"name": "t", "match": {"paths": [{"template": "/users/{id/reports"}], "hosts": ["*"], "methods": ["get"]}, "effect": "deny", "subjects": {"service_accounts": ["robot"]}},
            {"name": "ok", "match": {"paths": [{"exact": "/a", "prefix": "/a"}]}, "effect": "allow", "subjects": {"users": ["not-an-email"]}}
        ]
    }));
    let expected = [
        "rules[1].name: `bad name!` must be letters, digits, `.`, `_` or `-`",
        "rules[1].subjects: names nobody",
        "rules[2].match.hosts[0]: `*` is not a host name",
        "rules[2].match.paths[0].template: template has an unclosed '{'",
        "rules[2].match.methods[0]: `get` is not a method",
        "rules[2].subjects.service_accounts[0]: `robot` must be an email",
        "rules[3].match.paths[0]: set exactly one of `exact`, `prefix`, `template`",
        "rules[3].subjects.users[0]: `not-an-email` is not an email address",
        "rules: rule name `ok` is used twice",
    ];
    for want in expected {
        assert!(errors.iter().any(|e| e.starts_with(want)), "missing {want:?} in {errors:#?}");
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn warnings_point_at_shadowed_and_pointless_rules() {
    let config: PolicyConfig = serde_json::from_value(json!({
        "default": "allow",
        "rules": [
            {"name": "admins", "match": {"paths": [{"prefix": "/admin/users"}]}, "effect": "allow", "subjects": {"groups": ["admins@example.com"]}},
            {"name": "no-admin", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "deny", "subjects": {"authenticated": true}},
            {"name": "everyone-out", "match": {"paths": [{"prefix": "/old"}]}, "effect": "deny", "subjects": {"anonymous": true}}
        ]
    }))
    .unwrap();
    let (_, diagnostics) = compile(&config, "");
    let warnings: Vec<String> = diagnostics.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "rules.admins: can never admit anyone: every request it matches is denied by rule `no-admin`",
            "rules.everyone-out: denies everyone, verified or not (`anonymous` matches every caller)",
        ]
    );
}

#[test]
fn an_allow_rule_under_default_allow_is_flagged_as_having_no_effect() {
    let config: PolicyConfig = serde_json::from_value(json!({
        "default": "allow",
        "rules": [{"name": "pointless", "effect": "allow", "subjects": {"authenticated": true}}]
    }))
    .unwrap();
    let warnings = compile(&config, "").1.warnings;
    assert_eq!(warnings[0].to_string(), "rules.pointless: never changes a decision: the default is already allow");
}
