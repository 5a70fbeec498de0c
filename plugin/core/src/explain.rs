//! Why the policy decides what it does for one caller and one request: the answer
//! `wsgate explain` prints and the playground shows, computed by the same code the
//! filter runs.

use crate::gate::{Gate, reason_for};
use crate::policy::Policy;
use crate::policy::callers::DIRECT;
use crate::policy::pattern::{RequestShape, Unmatchable};
use crate::policy::subjects::Caller;
use crate::policy_config::Effect;
use crate::reason::Reason;
use crate::request::RequestSnapshot;
use serde::Serialize;
use std::fmt;

/// A caller described by hand, and a request.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    /// `None`: an anonymous caller.
    pub email: Option<&'a str>,
    /// Groups the caller's token would claim.
    pub groups: &'a [String],
    /// The caller's Workspace domain (`hd`); `None`: the email's domain.
    pub domain: Option<&'a str>,
    /// The named caller (`callers[].name`) the request came through; `None` or
    /// `direct`: directly.
    pub via: Option<&'a str>,
    /// The provider that verified the caller, for rules with `match.providers`.
    pub provider: Option<&'a str>,
    pub request: RequestLine<'a>,
}

/// The parts of a request a policy can look at.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
}

/// A decision and why, whoever asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// `allow` or `deny`: the policy's decision.
    pub effect: &'static str,
    pub status: u16,
    /// The reason code the decision log and the response carry.
    pub code: &'static str,
    /// The deciding rule; `None`: the policy's default.
    pub rule: Option<String>,
    pub why: String,
    /// The host and canonical path the rules were matched against.
    pub host: String,
    pub path: String,
}

impl Decision {
    fn new(reason: Reason, rule: Option<String>, shape: RequestShape) -> Decision {
        Decision {
            effect: if reason.admits() { "allow" } else { "deny" },
            status: reason.status(),
            code: reason.code(),
            why: why(reason, rule.as_deref()),
            rule,
            host: shape.host,
            path: shape.path,
        }
    }
}

/// What the policy decides for a caller described by hand, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    #[serde(flatten)]
    pub decision: Decision,
    /// `allow`, `deny`, or `would_deny` when only dry-run lets the request through.
    pub outcome: &'static str,
    /// `None`: an anonymous caller.
    pub caller: Option<CallerFacts>,
    /// Dry-run: what would happen were the dry-run policy or rules enforced.
    pub dry_run: Vec<String>,
}

/// The caller as the rules saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerFacts {
    pub email: String,
    pub domain: Option<String>,
    /// The policy's groups the caller is in, through the directory or its claims.
    pub groups: Vec<String>,
    /// What the service receives in the via header, when not direct.
    pub via: Option<String>,
}

/// A question the policy cannot answer as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainError {
    /// The filter refuses the path before any rule (400 `ambiguous_path`).
    AmbiguousPath(String),
    /// The filter refuses the host before any rule (400 `ambiguous_host`).
    AmbiguousHost(String),
    /// `via` names no caller of the policy.
    UnknownCaller(String),
}

impl ExplainError {
    /// The reason the filter refuses such a request with, if it refuses it.
    pub fn refusal(&self) -> Option<Reason> {
        match self {
            ExplainError::AmbiguousPath(_) => Some(Reason::AmbiguousPath),
            ExplainError::AmbiguousHost(_) => Some(Reason::AmbiguousHost),
            ExplainError::UnknownCaller(_) => None,
        }
    }
}

impl fmt::Display for ExplainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExplainError::AmbiguousPath(path) => write!(f, "`{path}` is ambiguous: the filter refuses it with 400 ambiguous_path"),
            ExplainError::AmbiguousHost(host) => write!(f, "`{host}` is ambiguous: the filter refuses it with 400 ambiguous_host"),
            ExplainError::UnknownCaller(name) => write!(f, "via `{name}` is not in the policy's `callers` (nor `{DIRECT}`)"),
        }
    }
}

/// Decides `question` with `policy` as the filter would for a verified caller (or an
/// anonymous one), and says why.
pub fn explain(policy: &Policy, question: &Question<'_>) -> Result<Explanation, ExplainError> {
    let shape = shape_of(&question.request)?;
    let domain = question.domain.map(str::to_owned).or_else(|| question.email.and_then(|e| e.split_once('@')).map(|(_, d)| d.to_owned()));
    let via = match question.via {
        None | Some(DIRECT) => None,
        Some(name) => Some(policy.caller_id(name).ok_or_else(|| ExplainError::UnknownCaller(name.to_owned()))?),
    };
    let caller = match question.email {
        Some(email) => Caller { via, provider: question.provider.map(Into::into), ..policy.caller(Some(email), domain.as_deref(), question.groups) },
        None => Caller::anonymous(),
    };
    let decision = policy.evaluate(&shape, &caller);
    let reason = reason_for(&decision, question.email.is_none().then_some(Reason::MissingToken));
    let rule = decision.rule.and_then(|id| policy.rule_name(id)).map(|name| name.to_string());
    let shadow_rule = decision.dry_run.map(|(effect, id)| (effect, id.and_then(|id| policy.rule_name(id)).map_or("default".to_owned(), |n| n.to_string())));
    let policy_lets_through = policy.dry_run && !reason.admits();
    let would_deny = policy_lets_through || shadow_rule.as_ref().is_some_and(|(effect, _)| *effect == Effect::Deny);
    let mut dry_run = Vec::new();
    if policy_lets_through {
        dry_run.push(format!("the policy is in dry-run: the filter lets this through and logs would_deny={}", reason.code()));
    }
    if let Some((effect, name)) = &shadow_rule {
        dry_run.push(format!("rule `{name}` would make it {}", effect.name()));
    }
    let caller = question.email.map(|email| CallerFacts {
        email: email.to_owned(),
        domain: domain.clone(),
        groups: policy.group_names(&caller.groups).map(str::to_owned).collect(),
        via: via.and_then(|id| policy.caller_definition(id)).map(|c| c.via.to_string()),
    });
    let outcome = match (reason.admits(), would_deny) {
        (_, true) => "would_deny",
        (true, false) => "allow",
        (false, false) => "deny",
    };
    Ok(Explanation { decision: Decision::new(reason, rule, shape), outcome, caller, dry_run })
}

/// Decides a request carrying `token` as a bearer token with the whole gate (token
/// verification at `now_ms`, then the policy), and says why.
pub fn explain_token(gate: &mut Gate, token: &str, request: &RequestLine<'_>, now_ms: u64) -> Result<TokenExplanation, ExplainError> {
    let shape = shape_of(request)?;
    let snapshot = RequestSnapshot::new(request.method, request.host, request.path).with_header("authorization", format!("Bearer {token}"));
    let verdict = gate.decide(&snapshot, now_ms);
    let rule = verdict.rule.as_ref().map(|r| r.name.to_string());
    Ok(TokenExplanation { decision: Decision::new(verdict.reason, rule, shape), log: verdict.log_line })
}

/// What the gate decides for a request with a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenExplanation {
    #[serde(flatten)]
    pub decision: Decision,
    /// The decision log line the filter would write.
    pub log: Option<String>,
}

fn shape_of(request: &RequestLine<'_>) -> Result<RequestShape, ExplainError> {
    RequestShape::read(request.host.as_bytes(), request.path.as_bytes(), request.method.as_bytes(), &[]).map_err(|unmatchable| match unmatchable {
        Unmatchable::Path => ExplainError::AmbiguousPath(request.path.to_owned()),
        Unmatchable::Host => ExplainError::AmbiguousHost(request.host.to_owned()),
    })
}

/// One sentence on why `reason` was reached, naming the deciding rule.
pub fn why(reason: Reason, rule: Option<&str>) -> String {
    let rule = rule.unwrap_or("default");
    match reason {
        Reason::Allowed | Reason::PublicPath => format!("rule `{rule}` admits this caller"),
        Reason::DeniedByRule => format!("deny rule `{rule}` matches, and a deny always wins"),
        Reason::NotAllowed => "no rule admits this caller, and the default is deny".to_owned(),
        Reason::MissingToken => "no rule admits anonymous callers here: a token is needed".to_owned(),
        other => other.description().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::load;
    use crate::session::setup::no_environment;

    const POLICY: &str = r#"{
        "rules": [
            {"name": "eng", "effect": "allow", "match": {"paths": [{"prefix": "/api"}]}, "subjects": {"groups": ["eng@example.com"]}},
            {"name": "no-admin", "effect": "deny", "match": {"paths": [{"prefix": "/api/admin"}]}, "subjects": {"authenticated": true}},
            {"name": "try-deny", "effect": "deny", "dry_run": true, "match": {"paths": [{"prefix": "/api/beta"}]}, "subjects": {"authenticated": true}}
        ],
        "directory": {"eng@example.com": ["alice@example.com"]}
    }"#;

    fn ask(email: Option<&str>, path: &str) -> Explanation {
        let (document, _) = load(POLICY.as_bytes(), &no_environment).unwrap();
        let request = RequestLine { method: "GET", host: "api.example.com", path };
        explain(document.policy(), &Question { email, groups: &[], domain: None, via: None, provider: None, request }).unwrap()
    }

    #[test]
    fn a_directory_member_is_admitted_by_the_rule_that_names_her_group() {
        let answer = ask(Some("alice@example.com"), "/api/x");
        assert_eq!((answer.outcome, answer.decision.code, answer.decision.rule.as_deref()), ("allow", "allowed", Some("eng")));
        assert_eq!(answer.caller.unwrap().groups, ["eng@example.com"]);
    }

    #[test]
    fn a_deny_wins_and_is_named_with_the_canonical_path() {
        let answer = ask(Some("alice@example.com"), "/api/admin//x");
        assert_eq!((answer.outcome, answer.decision.status, answer.decision.rule.as_deref()), ("deny", 403, Some("no-admin")));
        assert_eq!(answer.decision.path, "/api/admin/x");
    }

    #[test]
    fn a_dry_run_deny_is_a_would_deny() {
        let answer = ask(Some("alice@example.com"), "/api/beta");
        assert_eq!((answer.decision.effect, answer.outcome, answer.decision.rule.as_deref()), ("allow", "would_deny", Some("eng")));
        assert_eq!(answer.dry_run, ["rule `try-deny` would make it deny"]);
    }

    #[test]
    fn an_anonymous_caller_needs_a_token() {
        let answer = ask(None, "/api/x");
        assert_eq!((answer.outcome, answer.decision.status, answer.decision.code), ("deny", 401, "missing_token"));
    }

    #[test]
    fn ambiguous_paths_and_unknown_callers_are_errors() {
        let (document, _) = load(POLICY.as_bytes(), &no_environment).unwrap();
        let request = RequestLine { method: "GET", host: "h", path: "/api%2fadmin" };
        let question = Question { email: None, groups: &[], domain: None, via: None, provider: None, request };
        assert!(matches!(explain(document.policy(), &question), Err(ExplainError::AmbiguousPath(_))));
        let question = Question { email: Some("a@example.com"), via: Some("nobody"), request: RequestLine { path: "/", ..request }, ..question };
        assert_eq!(explain(document.policy(), &question), Err(ExplainError::UnknownCaller("nobody".to_owned())));
    }
}
