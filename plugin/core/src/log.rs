//! The decision log: one JSON line per request, with everything needed to answer
//! "why was this request let through or refused?".

use serde::Serialize;

/// One decision, as written to the proxy's log.
#[derive(Debug, Serialize)]
pub struct DecisionRecord<'a> {
    /// "allow" or "deny".
    pub decision: &'static str,
    pub status: u16,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    /// The named caller that carried the request (`addon:123`), and who its own token
    /// named: every automated call is attributed to a person and to a product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_email: Option<&'a str>,
    /// "user" when the reason is about the user token a caller carried, not its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_token: Option<&'static str>,
    /// `"session"` when the caller came with a browser session (`sign_in`), not a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<&'static str>,
    /// Dry-run: the reason the request would have been refused, and by which rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_deny: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_deny_rule: Option<&'a str>,
    pub method: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    pub request_id: &'a str,
}

impl DecisionRecord<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| format!("{{\"decision\":\"{}\",\"reason\":\"{}\"}}", self.decision, self.reason))
    }
}
