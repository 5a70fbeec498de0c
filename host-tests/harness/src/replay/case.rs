//! Replay case files: requests, the time, scripted upstream answers, and what must
//! happen. See the README's "Case files" section for the format.

use serde::Deserialize;
use std::collections::BTreeMap;
use wsgate_core::mint::SigningKey;
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::claims::{GOOGLE_ISSUER, ID_TOKEN_LIFETIME};

/// A file of cases sharing token definitions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Tokens by name, minted at replay time; headers use them as `{{name}}`.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenSpec>,
    /// Unix seconds every case runs at unless it says otherwise.
    #[serde(default)]
    pub time: Option<u64>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub email: String,
    #[serde(default)]
    pub hd: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default = "default_issuer")]
    pub iss: String,
    #[serde(default = "default_audience")]
    pub aud: String,
    /// Seconds before the replay time the token was issued; negative for the future.
    #[serde(default)]
    pub issued_ago: i64,
    #[serde(default = "default_ttl")]
    pub ttl: u64,
    #[serde(default = "default_true")]
    pub email_verified: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub time: Option<u64>,
    pub request: RequestSpec,
    #[serde(default)]
    pub upstream: UpstreamSpec,
    pub expect: Expectation,
    /// Run through real Envoy too (the end-to-end subset).
    #[serde(default)]
    pub envoy: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_authority")]
    pub authority: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    #[serde(default = "default_status")]
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Default for UpstreamSpec {
    fn default() -> Self {
        Self { status: default_status(), headers: BTreeMap::new() }
    }
}

/// Every field present is checked; absent ones are not.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub status: Option<u16>,
    /// Whether the plugin answered itself (true) or forwarded (false).
    pub local_reply: Option<bool>,
    #[serde(default)]
    pub response_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub upstream_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub upstream_headers_absent: Vec<String>,
    /// Substrings of the plugin's log for this request.
    #[serde(default)]
    pub log_contains: Vec<String>,
    /// For local replies: the JSON body's `error`.
    pub error: Option<String>,
}

fn default_issuer() -> String {
    GOOGLE_ISSUER.to_owned()
}
fn default_audience() -> String {
    "wsgate-replay".to_owned()
}
fn default_ttl() -> u64 {
    ID_TOKEN_LIFETIME
}
fn default_true() -> bool {
    true
}
fn default_method() -> String {
    "GET".to_owned()
}
fn default_authority() -> String {
    "app.example.com".to_owned()
}
fn default_status() -> u16 {
    200
}

/// The fixed default replay time: 2030-03-17, so fixtures never rot.
pub const DEFAULT_TIME: u64 = 1_900_000_000;

impl TokenSpec {
    /// A Google ID token as the spec says, issued `issued_ago` before `now`. Its
    /// subject is `sub-<email>`, which the fixtures' expectations name.
    pub fn mint(&self, key: &SigningKey, now: u64) -> Result<String, String> {
        let claims = GoogleClaims::id_token(&self.email, &self.aud, now)
            .issuer(&self.iss)
            .subject(format!("sub-{}", self.email))
            .email_verified(self.email_verified)
            .hd(self.hd.as_deref())
            .groups(&self.groups)
            .lifetime(self.ttl)
            .issued_at(now.saturating_add_signed(-self.issued_ago));
        key.sign(&claims.build())
    }
}

impl Case {
    /// The request headers with `{{token}}` placeholders filled in.
    pub fn headers(&self, tokens: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, String> {
        let mut headers = vec![
            (":method".to_owned(), self.request.method.clone()),
            (":authority".to_owned(), self.request.authority.clone()),
            (":path".to_owned(), self.request.path.clone()),
            (":scheme".to_owned(), "http".to_owned()),
        ];
        for (name, value) in &self.request.headers {
            headers.push((name.to_ascii_lowercase(), fill(value, tokens)?));
        }
        Ok(headers)
    }
}

fn fill(value: &str, tokens: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..].find("}}").ok_or(format!("unclosed `{{{{` in `{value}`"))? + start;
        let name = rest[start + 2..end].trim();
        out.push_str(&rest[..start]);
        out.push_str(tokens.get(name).ok_or(format!("unknown token `{name}`"))?);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}
