//! The code exchange (OpenID Connect Core §3.1.3): the token request the gate sends
//! to Google's token endpoint, and what it reads of the answer: the ID token, and
//! nothing else (no access or refresh token is kept).

use super::setup::SignIn;
use super::form;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The most of the token endpoint's answer the gate reads.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A token request to make through an Envoy cluster: a form `POST`.
#[derive(Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    /// `application/x-www-form-urlencoded`; holds the client secret.
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

impl std::fmt::Debug for ExchangeRequest {
    // The body holds the client secret and the code: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExchangeRequest({} {}{})", self.cluster, self.authority, self.path)
    }
}

impl ExchangeRequest {
    /// The request exchanging `code` for tokens, proving the sign-in with `verifier`.
    pub fn new(sign_in: &SignIn, code: &str, verifier: &str) -> Self {
        let body = form::encode(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", &sign_in.client_id),
            ("client_secret", sign_in.client_secret.expose()),
            ("redirect_uri", &sign_in.redirect_uri),
            ("code_verifier", verifier),
        ]);
        let endpoint = &sign_in.token_endpoint;
        Self {
            cluster: endpoint.cluster.clone(),
            authority: endpoint.authority.clone(),
            path: endpoint.path.clone(),
            body: body.into_bytes(),
            timeout_ms: endpoint.timeout_ms,
        }
    }
}

/// What the token endpoint answered: `status` `None` when nothing came back
/// (timeout, reset, no connection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeAnswer {
    pub status: Option<u16>,
    pub body: Vec<u8>,
}

/// The ID token of a successful answer (`200` with a JSON `id_token`).
pub fn id_token(answer: &ExchangeAnswer) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TokenResponse {
        id_token: Option<String>,
    }
    if answer.status != Some(200) {
        return None;
    }
    let response: TokenResponse = serde_json::from_slice(&answer.body).ok()?;
    response.id_token.filter(|token| !token.is_empty())
}

/// The `nonce` claim of a token whose signature was already verified.
pub fn nonce(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Claims {
        nonce: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.nonce
}

/// The `code`, `state` and `error` of a callback's query string.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl Callback {
    /// Reads the query of `raw_path`. A parameter given twice counts as absent: which
    /// one a reader takes is not ours to guess.
    pub fn read(raw_path: &[u8]) -> Callback {
        let query = raw_path.iter().position(|&b| b == b'?').map_or(&[][..], |at| &raw_path[at + 1..]);
        let query = query.split(|&b| b == b'#').next().unwrap_or_default();
        let value = |name: &str| {
            let mut found = query.split(|&b| b == b'&').filter_map(|pair| {
                let (key, value) = pair.split_at(pair.iter().position(|&b| b == b'=')?);
                (form::decode(key)? == name).then(|| form::decode(&value[1..]))?
            });
            let first = found.next();
            if found.next().is_some() { None } else { first.filter(|v| !v.is_empty()) }
        };
        Callback { code: value("code"), state: value("state"), error: value("error") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_query_is_read_and_doubled_parameters_count_as_absent() {
        let callback = Callback::read(b"/_wsgate/callback?state=abc&code=4%2F0Ab+x&scope=openid");
        assert_eq!(callback, Callback { code: Some("4/0Ab x".into()), state: Some("abc".into()), error: None });
        assert_eq!(Callback::read(b"/cb?code=a&code=b&state=s").code, None);
        assert_eq!(Callback::read(b"/cb?error=access_denied").error.as_deref(), Some("access_denied"));
        assert_eq!(Callback::read(b"/cb?code=%zz").code, None);
        assert_eq!(Callback::read(b"/cb"), Callback::default());
    }

    #[test]
    fn only_a_200_with_an_id_token_yields_one() {
        let answer = |status, body: &str| ExchangeAnswer { status, body: body.as_bytes().to_vec() };
        assert_eq!(id_token(&answer(Some(200), r#"{"id_token":"a.b.c","access_token":"x"}"#)).as_deref(), Some("a.b.c"));
        assert_eq!(id_token(&answer(Some(400), r#"{"id_token":"a.b.c"}"#)), None);
        assert_eq!(id_token(&answer(Some(200), r#"{"access_token":"x"}"#)), None);
        assert_eq!(id_token(&answer(Some(200), "<html>")), None);
        assert_eq!(id_token(&answer(None, "")), None);
    }
}
