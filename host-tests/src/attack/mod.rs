//! The adversarial corpus: requests an attacker would send to get around the gate,
//! each with the answer it must get written beside it, and the configuration they are
//! sent against. `e2e_adversarial` sends them through real Envoy + wsgate;
//! `e2e_differential` sends the same ones through Envoy's native `jwt_authn` + `rbac`.

pub mod corpus;
pub mod forge;
pub mod native;
pub mod run;

use serde_json::{Value, json};
use wsgate_core::mint::TestKeys;
use wsgate_fixtures::configs::google_and_iap;

/// What a case is about (the classes the note counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    JwtAttack,
    ClaimEdge,
    TokenLocation,
    IdentityHeader,
    PathConfusion,
    NameMatching,
    CacheCrossUse,
    HeldUnderFailure,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::JwtAttack => "JWT attacks (RFC 8725)",
            Class::ClaimEdge => "claim edge values",
            Class::TokenLocation => "token-location ambiguity",
            Class::IdentityHeader => "identity-header spelling",
            Class::PathConfusion => "path confusion per upstream family",
            Class::NameMatching => "case, lookalikes, trailing dots (emails, domains, hosts)",
            Class::CacheCrossUse => "token cache cross-use",
            Class::HeldUnderFailure => "held requests under key/group failures",
        }
    }
}

/// The answer a case must get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Reaches the service, as this caller (`None`: anonymously, no identity headers).
    Forwarded(Option<&'static str>),
    /// Refused by wsgate with this status and reason code; never reaches the service.
    Refused(u16, &'static str),
    /// Refused by Envoy before wsgate sees it (this status); never reaches the service.
    RefusedByEnvoy(u16),
}

impl Expect {
    pub fn forwarded(&self) -> bool {
        matches!(self, Expect::Forwarded(_))
    }
}

/// One request and its expected answer.
#[derive(Debug, Clone)]
pub struct Case {
    pub class: Class,
    pub name: String,
    pub method: String,
    /// The request-target exactly as sent.
    pub target: String,
    /// Sent in order, repeats kept; `host` among them when the case picks one.
    pub headers: Vec<(String, String)>,
    pub expect: Expect,
}

impl Case {
    /// Whether the answer depends on what Envoy does before wsgate (its codec, path
    /// normalisation, redirects): such cases run only through real Envoy.
    pub fn needs_envoy(&self) -> bool {
        matches!(self.expect, Expect::RefusedByEnvoy(_)) || self.name.contains("Envoy") || !self.target.starts_with('/')
    }

    /// The request as Envoy hands it to a filter: pseudo-headers, names in lower case.
    pub fn as_filter_sees_it(&self) -> Vec<(String, String)> {
        let host = self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")).map_or("", |(_, v)| v.as_str());
        let mut headers = vec![(":method".to_owned(), self.method.clone()), (":path".to_owned(), self.target.clone()), (":authority".to_owned(), host.to_owned())];
        headers.extend(self.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("host")).map(|(n, v)| (n.to_ascii_lowercase(), v.clone())));
        headers
    }
}

/// The plugin configuration the corpus is written against: Google ID tokens (RS256)
/// and IAP assertions (ES256), `policies/admin-paths.json`'s rules and the hr rules of
/// `policies/multi-service-gateway.json` on `hr.example.com`, a public `/healthz`.
pub fn plugin_config() -> Value {
    google_and_iap(&TestKeys::shared().jwks(), policy())
}

pub fn policy() -> Value {
    json!({
        "rules": [
            {"name": "health", "match": {"paths": [{"exact": "/healthz"}], "methods": ["GET", "HEAD"]}, "effect": "allow", "subjects": {"anonymous": true}},
            {"name": "admin-console", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "allow", "subjects": {"groups": ["admins@example.com"]}},
            {"name": "staff-app", "match": {"paths": [{"prefix": "/app"}, {"prefix": "/api"}]}, "effect": "allow", "subjects": {"domains": ["example.com"]}},
            {"name": "admin-writes-need-admins", "match": {"paths": [{"prefix": "/api/admin"}], "methods": ["POST", "PUT", "PATCH", "DELETE"]}, "effect": "deny", "subjects": {"users": ["intern@example.com"]}},
            {"name": "hr", "match": {"hosts": ["hr.example.com"]}, "effect": "allow", "subjects": {"groups": ["people-team@example.com"]}},
            {"name": "hr-salaries-read-only", "match": {"hosts": ["hr.example.com"], "paths": [{"template": "/employees/{id}/salary"}], "methods": ["PUT", "PATCH", "DELETE"]}, "effect": "deny", "subjects": {"authenticated": true}}
        ],
        "directory": {
            "admins@example.com": ["root@example.com", "it-ops@example.com"],
            "it-ops@example.com": ["olivia@example.com"],
            "people-team@example.com": ["petra@example.com"]
        }
    })
}

/// Who is in which group, flattened: what the native RBAC equivalent lists by email.
pub fn members_of(group: &str) -> &'static [&'static str] {
    match group {
        "admins@example.com" => &["root@example.com", "olivia@example.com"],
        "people-team@example.com" => &["petra@example.com"],
        _ => &[],
    }
}
