//! The stand-in's OpenID Connect side, in the shapes Google documents
//! (developers.google.com/identity/openid-connect/openid-connect):
//!
//! - `GET /.well-known/openid-configuration`: the discovery document;
//! - `GET /o/oauth2/v2/auth`: the authorization endpoint. It checks the client and
//!   its registered redirect URI (Google's `redirect_uri_mismatch`), then shows a
//!   page listing demo accounts to click (`login_hint` preselects one); a click
//!   (`/o/oauth2/v2/auth/choose`) sends the browser to the redirect URI with `code`,
//!   `state`, `scope` and `authuser`;
//! - `POST /token`: the token endpoint. It checks the client secret, the code (once
//!   only), the redirect URI and the PKCE verifier (S256), and answers Google's shape
//!   with an ID token (`nonce`, `hd`, `email_verified`) signed by the stand-in's key.
//!   Errors are RFC 6749 §5.2's JSON (`invalid_grant`, `invalid_client`).

use crate::percent::{percent_decode, percent_encode};
use crate::upstream::ReceivedRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use wsgate_fixtures::claims::{GOOGLE_ISSUER, google_subject};

/// An OAuth client registered with the stand-in.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub id: String,
    pub secret: String,
    pub redirect_uris: Vec<String>,
}

/// A person who can sign in: the email; the Workspace domain (`hd`), if any.
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    pub hosted_domain: Option<String>,
}

/// A code issued and not yet exchanged.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    account: Account,
}

/// What the OIDC side remembers.
#[derive(Debug, Default)]
pub struct OidcState {
    pub clients: Vec<OAuthClient>,
    pub accounts: Vec<Account>,
    grants: BTreeMap<String, Grant>,
    codes_issued: usize,
    /// Successful code exchanges.
    pub exchanges: usize,
}

/// An HTTP answer: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, String);

/// Answers `request` if it is for an OIDC endpoint; `base` is the stand-in's own URL.
pub fn answer(state: &mut OidcState, request: &ReceivedRequest, base: &str, sign: &dyn Fn(&Value) -> Result<String, String>, now: u64) -> Option<Reply> {
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    Some(match (request.method.as_str(), path) {
        ("GET", "/.well-known/openid-configuration") => discovery(base),
        ("GET", "/o/oauth2/v2/auth") => authorization_page(state, query),
        ("GET", "/o/oauth2/v2/auth/choose") => choose(state, query),
        ("POST", "/token") => token(state, &request.body, sign, now),
        _ => return None,
    })
}

fn discovery(base: &str) -> Reply {
    let document = json!({
        "issuer": GOOGLE_ISSUER,
        "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/oauth2/v3/certs"),
        "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture", "sub"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
    });
    (200, vec![], document.to_string())
}

/// The page of accounts, or Google's error page for an unknown client or redirect URI.
fn authorization_page(state: &OidcState, query: &str) -> Reply {
    let params = form(query);
    if let Err(error) = check_authorization(state, &params) {
        return html(400, &format!("<h1>Error 400: {error}</h1>"));
    }
    let hint = params.get("login_hint").map(String::as_str);
    let items: String = state
        .accounts
        .iter()
        .map(|account| {
            let preselected = if hint == Some(account.email.as_str()) { " class=\"preselected\" autofocus" } else { "" };
            let link = format!("/o/oauth2/v2/auth/choose?{query}&account={}", percent_encode(&account.email));
            format!("<li><a id=\"{id}\" href=\"{href}\"{preselected}>{email}</a></li>", id = account_id(&account.email), href = escape(&link), email = escape(&account.email))
        })
        .collect();
    html(200, &format!("<h1>Choose an account</h1><p>to continue to wsgate (a local stand-in for Google)</p><ul>{items}</ul>"))
}

/// A click on an account: a code, and the browser back to the client.
fn choose(state: &mut OidcState, query: &str) -> Reply {
    let params = form(query);
    if let Err(error) = check_authorization(state, &params) {
        return html(400, &format!("<h1>Error 400: {error}</h1>"));
    }
    let Some(account) = params.get("account").and_then(|email| state.accounts.iter().find(|a| &a.email == email)).cloned() else {
        return html(400, "<h1>Error 400: unknown account</h1>");
    };
    state.codes_issued += 1;
    let code = format!("4/0standin-{}", state.codes_issued);
    let grant = Grant {
        client_id: params["client_id"].clone(),
        redirect_uri: params["redirect_uri"].clone(),
        challenge: params["code_challenge"].clone(),
        nonce: params.get("nonce").cloned(),
        account,
    };
    state.grants.insert(code.clone(), grant);
    let mut back = vec![("code", code.as_str()), ("scope", "email openid https://www.googleapis.com/auth/userinfo.email"), ("authuser", "0"), ("prompt", "consent")];
    back.extend(params.get("state").map(|s| ("state", s.as_str())));
    let query: Vec<String> = back.iter().map(|(n, v)| format!("{n}={}", percent_encode(v))).collect();
    let location = format!("{}?{}", params["redirect_uri"], query.join("&"));
    (302, vec![("location".into(), location), ("content-type".into(), "text/html; charset=UTF-8".into())], String::new())
}

/// What Google checks before it shows anything: the client, the redirect URI, a code
/// request with an S256 challenge.
fn check_authorization(state: &OidcState, params: &BTreeMap<String, String>) -> Result<(), &'static str> {
    let client = params.get("client_id").and_then(|id| state.clients.iter().find(|c| &c.id == id)).ok_or("invalid_client")?;
    let redirect = params.get("redirect_uri").ok_or("invalid_request")?;
    if !client.redirect_uris.contains(redirect) {
        return Err("redirect_uri_mismatch");
    }
    if params.get("response_type").map(String::as_str) != Some("code") || params.get("code_challenge_method").map(String::as_str) != Some("S256") || !params.contains_key("code_challenge") {
        return Err("invalid_request");
    }
    Ok(())
}

/// The code exchange.
fn token(state: &mut OidcState, body: &str, sign: &dyn Fn(&Value) -> Result<String, String>, now: u64) -> Reply {
    let params = form(body);
    let error = |status: u16, error: &str, description: &str| (status, vec![], json!({"error": error, "error_description": description}).to_string());
    let client = params.get("client_id").and_then(|id| state.clients.iter().find(|c| &c.id == id)).cloned();
    let Some(client) = client.filter(|c| params.get("client_secret") == Some(&c.secret)) else { return error(401, "invalid_client", "Unauthorized") };
    if params.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return error(400, "unsupported_grant_type", "Invalid grant_type");
    }
    // A code is good once, whatever happens next.
    let Some(grant) = params.get("code").and_then(|code| state.grants.remove(code)) else { return error(400, "invalid_grant", "Bad Request") };
    let verifier_ok = params.get("code_verifier").is_some_and(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == grant.challenge);
    if grant.client_id != client.id || params.get("redirect_uri") != Some(&grant.redirect_uri) || !verifier_ok {
        return error(400, "invalid_grant", "Bad Request");
    }
    let mut claims = json!({
        "iss": GOOGLE_ISSUER, "azp": client.id, "aud": client.id, "sub": google_subject(&grant.account.email),
        "email": grant.account.email, "email_verified": true, "at_hash": "standin", "iat": now, "exp": now + 3600,
    });
    if let Some(hd) = &grant.account.hosted_domain {
        claims["hd"] = Value::from(hd.clone());
    }
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = Value::from(nonce.clone());
    }
    let Ok(id_token) = sign(&claims) else { return error(500, "server_error", "signing failed") };
    state.exchanges += 1;
    let answer = json!({
        "access_token": format!("ya29.standin-user-{}", state.exchanges), "expires_in": 3599, "token_type": "Bearer",
        "scope": "openid https://www.googleapis.com/auth/userinfo.email", "id_token": id_token,
    });
    (200, vec![("cache-control".into(), "no-cache, no-store, max-age=0, must-revalidate".into())], answer.to_string())
}

/// The element id of an account's link on the page (for browser tests).
pub fn account_id(email: &str) -> String {
    format!("account-{}", email.replace(['@', '.'], "-"))
}

fn html(status: u16, body: &str) -> Reply {
    let page = format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign in - Google Accounts (stand-in)</title></head><body>{body}</body></html>");
    (status, vec![("content-type".into(), "text/html; charset=UTF-8".into())], page)
}

/// `application/x-www-form-urlencoded` pairs; a name given twice keeps the first.
fn form(text: &str) -> BTreeMap<String, String> {
    let mut pairs = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.entry(percent_decode(name)).or_insert_with(|| percent_decode(value));
    }
    pairs
}


fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
