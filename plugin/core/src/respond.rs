//! The answers the gate sends itself: 401 with an RFC 6750 challenge, 403 with a
//! reason code. Bodies carry the code and the request id, never internal details.

use crate::reason::Reason;
use serde::Serialize;

/// A response the proxy sends instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    request_id: &'a str,
}

/// The response for a refused request, with `status` (normally `reason.status()`).
/// `token_sent` decides the challenge: RFC 6750 §3.1 says a request without
/// credentials gets no `error` attribute.
pub fn refusal(reason: Reason, status: u16, token_sent: bool, realm: &str, request_id: &str) -> LocalResponse {
    let body = serde_json::to_string(&ErrorBody { error: reason.code(), request_id })
        .unwrap_or_else(|_| format!("{{\"error\":\"{}\"}}", reason.code()));
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("cache-control".to_owned(), "no-store".to_owned()),
    ];
    if status == 401 || reason == Reason::AmbiguousToken {
        headers.push(("www-authenticate".to_owned(), challenge(reason, token_sent, realm)));
    }
    LocalResponse { status, headers, body }
}

impl LocalResponse {
    /// Tells the client when what was missing (keys, a group answer) is next tried:
    /// `retry_in_ms` from now, in whole seconds, at least one (RFC 9110 §10.2.3).
    pub fn retry_after(mut self, retry_in_ms: u64) -> Self {
        let seconds = retry_in_ms.div_ceil(1000).max(1);
        self.headers.push(("retry-after".to_owned(), seconds.to_string()));
        self
    }
}

/// RFC 6750 §3.1: a request that "uses more than one method for including an access
/// token" is an `invalid_request` (400); a token that fails is an `invalid_token`.
fn challenge(reason: Reason, token_sent: bool, realm: &str) -> String {
    if reason == Reason::AmbiguousToken {
        format!("Bearer realm=\"{realm}\", error=\"invalid_request\", error_description=\"{}\"", reason.description())
    } else if token_sent {
        format!(
            "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
            reason.description()
        )
    } else {
        format!("Bearer realm=\"{realm}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(response: &'a LocalResponse, name: &str) -> Option<&'a str> {
        response.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn no_token_gets_a_bare_challenge() {
        let response = refusal(Reason::MissingToken, 401, false, "wsgate", "r1");
        assert_eq!(response.status, 401);
        assert_eq!(header(&response, "www-authenticate"), Some("Bearer realm=\"wsgate\""));
        assert_eq!(response.body, r#"{"error":"missing_token","request_id":"r1"}"#);
    }

    #[test]
    fn a_bad_token_gets_invalid_token_with_a_description() {
        let response = refusal(Reason::TokenExpired, 401, true, "wsgate", "r2");
        assert_eq!(
            header(&response, "www-authenticate"),
            Some("Bearer realm=\"wsgate\", error=\"invalid_token\", error_description=\"the token has expired\"")
        );
    }

    #[test]
    fn two_tokens_get_400_invalid_request() {
        let response = refusal(Reason::AmbiguousToken, 400, true, "wsgate", "r4");
        assert_eq!(response.status, 400);
        assert_eq!(
            header(&response, "www-authenticate"),
            Some("Bearer realm=\"wsgate\", error=\"invalid_request\", error_description=\"the request carries more than one token\"")
        );
    }

    #[test]
    fn a_refused_caller_gets_403_json_and_no_challenge() {
        let response = refusal(Reason::NotAllowed, 403, true, "wsgate", "r\"3");
        assert_eq!(response.status, 403);
        assert_eq!(header(&response, "www-authenticate"), None);
        assert_eq!(response.body, r#"{"error":"not_allowed","request_id":"r\"3"}"#);
    }
}
