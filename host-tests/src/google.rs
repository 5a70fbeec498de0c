//! A local stand-in for the Google endpoints wsgate talks to, speaking their
//! documented request and response shapes on 127.0.0.1:
//!
//! - `GET /oauth2/v3/certs`: Google's ID-token signing keys (RS256 JWKS) with
//!   `Cache-Control: public, max-age=…`, as `www.googleapis.com` serves them;
//! - `GET /iap/verify/public_key-jwk`: IAP's ES256 keys, as `www.gstatic.com` does;
//! - `GET /service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com`: Chat's
//!   signing keys as a map from key id to PEM certificate, the only form Google
//!   publishes them in, with the same `Cache-Control`;
//! - `GET /computeMetadata/v1/instance/service-accounts/default/token`: the metadata
//!   server's access token (`Metadata-Flavor: Google` required, proxies refused);
//! - Cloud Identity `GET /v1/groups:lookup?groupKey.id=…` and
//!   `GET /v1/groups/{id}/memberships:checkTransitiveMembership?query=member_key_id == '…'`;
//! - Admin SDK Directory `GET /admin/directory/v1/groups/{groupKey}/hasMember/{memberKey}`.
//!
//! - OpenID Connect sign-in: discovery, the authorization page and the token
//!   endpoint (see [`crate::google_oidc`]).
//!
//! Group APIs need a bearer token the metadata endpoint issued; errors use Google's
//! JSON error shape. Tests can rotate the signing key, change memberships, and inject
//! faults (a status such as 500 or 429, slow answers, hung or dropped connections).

use crate::google_oidc::{self, Account, OAuthClient, OidcState, Reply};
use crate::percent::percent_decode;
use crate::upstream::{ReceivedRequest, read_request};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_core::mint_x509::certificate_pem;
use wsgate_fixtures::claims::CHAT_SIGNER;

/// What an endpoint does instead of answering normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a Google JSON error (500, 503, 429…).
    Status(u16),
    /// Answer normally, this much later.
    Slow(Duration),
    /// Read the request, then never answer (the caller's timeout fires).
    Hang,
    /// Close the connection without a response.
    Drop,
}

#[derive(Default)]
struct State {
    /// Published ID-token keys, oldest first; the last one signs new tokens.
    id_keys: Vec<SigningKey>,
    iap_keys: Vec<SigningKey>,
    /// Chat's signing keys with their certificates, oldest first; the last signs.
    chat_keys: Vec<(SigningKey, String)>,
    max_age_seconds: u64,
    /// Group email -> members (user or group emails); nesting is followed.
    groups: BTreeMap<String, BTreeSet<String>>,
    /// Path prefix -> fault, for every request until cleared.
    faults: Vec<(String, Fault)>,
    issued_tokens: BTreeSet<String>,
    requests: Vec<ReceivedRequest>,
    /// ID-token and Chat keys made so far: `kid`s are never reused, as Google's are not.
    keys_made: usize,
    chat_keys_made: usize,
    oidc: OidcState,
}

/// The running stand-in. Cheap to clone; all clones control the same server.
#[derive(Clone)]
pub struct GoogleStandIn {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl GoogleStandIn {
    /// Starts on a free port with one RS256 ID-token key, one ES256 IAP key and
    /// `max-age=21600` (Google's is about six hours).
    pub fn start() -> Result<Self, String> {
        Self::start_on(0, SigningKey::generate_rs256("standin-1")?)
    }

    /// Starts on `port` (0: a free one), signing ID tokens with `id_key` (`make run`
    /// keeps its demo key across runs, so tokens minted earlier keep working).
    pub fn start_on(port: u16, id_key: SigningKey) -> Result<Self, String> {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let state = State {
            id_keys: vec![id_key],
            iap_keys: vec![SigningKey::generate_es256("standin-iap-1")],
            chat_keys: vec![chat_key("chat-1")?],
            max_age_seconds: 21_600,
            ..State::default()
        };
        let server = Self { port, state: Arc::new(Mutex::new(state)) };
        let shared = server.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = shared.clone();
                thread::spawn(move || server.serve(stream));
            }
        });
        Ok(server)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Signs `claims` with the current ID-token key.
    pub fn mint(&self, claims: &Value) -> Result<String, String> {
        let state = self.state();
        state.id_keys.last().ok_or("no signing key")?.sign(claims)
    }

    /// Signs `claims` with the current IAP key (ES256).
    pub fn mint_iap(&self, claims: &Value) -> Result<String, String> {
        let state = self.state();
        state.iap_keys.last().ok_or("no IAP key")?.sign(claims)
    }

    /// Signs `claims` as Chat does (`chat@system.gserviceaccount.com`'s current key).
    pub fn mint_chat(&self, claims: &Value) -> Result<String, String> {
        let state = self.state();
        state.chat_keys.last().ok_or("no Chat key")?.0.sign(claims)
    }

    /// Rotates Chat's key as Google rotates a service account's: the new certificate
    /// is published beside the old one and signs from now on. Returns its `kid`.
    pub fn rotate_chat(&self) -> Result<String, String> {
        let kid = {
            let mut state = self.state();
            state.chat_keys_made = state.chat_keys_made.max(state.chat_keys.len()) + 1;
            format!("chat-{}", state.chat_keys_made)
        };
        let key = chat_key(&kid)?;
        self.state().chat_keys.push(key);
        Ok(kid)
    }

    /// Stops publishing Chat's oldest certificate.
    pub fn retire_oldest_chat(&self) {
        retire_oldest(&mut self.state().chat_keys);
    }

    /// Google's rotation: a new key is published beside the old one and signs from
    /// now on. Returns its `kid`.
    pub fn rotate(&self) -> Result<String, String> {
        let kid = {
            let mut state = self.state();
            state.keys_made = state.keys_made.max(state.id_keys.len()) + 1;
            format!("standin-{}", state.keys_made)
        };
        // RSA key generation takes a while: not under the lock every endpoint needs.
        let key = SigningKey::generate_rs256(&kid)?;
        self.state().id_keys.push(key);
        Ok(kid)
    }

    /// Stops publishing the oldest ID-token key (the end of a rotation).
    pub fn retire_oldest(&self) {
        retire_oldest(&mut self.state().id_keys);
    }

    pub fn current_kid(&self) -> Option<String> {
        self.state().id_keys.last().and_then(|k| k.public_jwk()["kid"].as_str().map(str::to_owned))
    }

    pub fn set_max_age(&self, seconds: u64) {
        self.state().max_age_seconds = seconds;
    }

    /// Replaces a group's direct members (user or group emails).
    pub fn set_members(&self, group: &str, members: &[&str]) {
        self.state().groups.insert(group.to_owned(), members.iter().map(|m| (*m).to_owned()).collect());
    }

    /// Every request to paths starting with `prefix` meets `fault` until cleared.
    pub fn set_fault(&self, prefix: &str, fault: Fault) {
        let mut state = self.state();
        state.faults.retain(|(p, _)| p != prefix);
        state.faults.push((prefix.to_owned(), fault));
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Requests received so far whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<ReceivedRequest> {
        self.state().requests.iter().filter(|r| r.path.starts_with(prefix)).cloned().collect()
    }

    fn serve(&self, stream: TcpStream) {
        let Ok(mut writer) = stream.try_clone() else { return };
        let Some(request) = read_request(stream) else { return };
        let fault = {
            let mut state = self.state();
            state.requests.push(request.clone());
            state.faults.iter().find(|(prefix, _)| request.path.starts_with(prefix.as_str())).map(|(_, f)| f.clone())
        };
        let (status, headers, body) = match fault {
            Some(Fault::Drop) => return,
            Some(Fault::Hang) => {
                thread::sleep(Duration::from_secs(3600));
                return;
            }
            Some(Fault::Status(status)) => google_error(status, "injected fault"),
            Some(Fault::Slow(delay)) => {
                thread::sleep(delay);
                self.answer(&request)
            }
            None => self.answer(&request),
        };
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
        if !headers.iter().any(|(name, _)| name == "content-type") {
            head.push_str("content-type: application/json; charset=UTF-8\r\n");
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let _ = write!(writer, "{head}content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    }

    fn answer(&self, request: &ReceivedRequest) -> (u16, Vec<(String, String)>, String) {
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        if let Some(reply) = self.oidc(request) {
            return reply;
        }
        if request.method != "GET" {
            return google_error(405, "only GET is served here");
        }
        match path {
            "/oauth2/v3/certs" => self.certs(|s| &s.id_keys),
            "/iap/verify/public_key-jwk" => self.certs(|s| &s.iap_keys),
            "/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com" => self.certificate_map(),
            "/computeMetadata/v1/instance/service-accounts/default/token" => self.metadata_token(request),
            _ if !self.authorized(request) => google_error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token."),
            "/v1/groups:lookup" => self.lookup(query),
            _ => self.membership(path, query),
        }
    }

    fn oidc(&self, request: &ReceivedRequest) -> Option<Reply> {
        let base = format!("http://127.0.0.1:{}", self.port);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut state = self.state();
        let State { oidc, id_keys, .. } = &mut *state;
        let sign = |claims: &Value| id_keys.last().ok_or_else(|| "no signing key".to_owned())?.sign(claims);
        google_oidc::answer(oidc, request, &base, &sign, now)
    }

    /// Registers an OAuth client for sign-in.
    pub fn register_client(&self, client: OAuthClient) {
        self.state().oidc.clients.push(client);
    }

    /// Adds a person who can sign in, in Workspace domain `hosted_domain` (if any).
    pub fn add_account(&self, email: &str, hosted_domain: Option<&str>) {
        self.state().oidc.accounts.push(Account { email: email.to_owned(), hosted_domain: hosted_domain.map(str::to_owned) });
    }

    /// How many codes the token endpoint exchanged.
    pub fn code_exchanges(&self) -> usize {
        self.state().oidc.exchanges
    }

    fn certs(&self, keys: impl Fn(&State) -> &Vec<SigningKey>) -> (u16, Vec<(String, String)>, String) {
        let state = self.state();
        let published: Vec<&SigningKey> = keys(&state).iter().collect();
        let cache_control = format!("public, max-age={}, must-revalidate, no-transform", state.max_age_seconds);
        (200, vec![("cache-control".into(), cache_control)], jwks(&published).to_string())
    }

    /// `{"kid": "-----BEGIN CERTIFICATE-----…", …}`, as Google serves a service
    /// account's public certificates.
    fn certificate_map(&self) -> (u16, Vec<(String, String)>, String) {
        let state = self.state();
        let map: serde_json::Map<String, Value> = state.chat_keys.iter().map(|(key, pem)| (kid_of(key), Value::from(pem.clone()))).collect();
        let cache_control = format!("public, max-age={}, must-revalidate, no-transform", state.max_age_seconds);
        (200, vec![("cache-control".into(), cache_control)], Value::Object(map).to_string())
    }

    /// The metadata server refuses anything that looks proxied or lacks the flavor
    /// header, so a token can only be obtained from inside the instance.
    fn metadata_token(&self, request: &ReceivedRequest) -> (u16, Vec<(String, String)>, String) {
        if request.header("metadata-flavor") != Some("Google") || request.header("x-forwarded-for").is_some() {
            return (403, vec![], "Missing Metadata-Flavor:Google header.".to_owned());
        }
        let mut state = self.state();
        let token = format!("ya29.standin-{}", state.issued_tokens.len() + 1);
        state.issued_tokens.insert(token.clone());
        let body = json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"});
        (200, vec![("metadata-flavor".into(), "Google".into())], body.to_string())
    }

    fn authorized(&self, request: &ReceivedRequest) -> bool {
        let token = request.header("authorization").and_then(|v| v.strip_prefix("Bearer "));
        token.is_some_and(|t| self.state().issued_tokens.contains(t))
    }

    /// Cloud Identity names groups by an opaque id; the stand-in uses the email's
    /// local part, hex-encoded, which is opaque enough to catch callers that skip the lookup.
    fn lookup(&self, query: &str) -> (u16, Vec<(String, String)>, String) {
        let Some(email) = query_param(query, "groupKey.id") else {
            return google_error(400, "groupKey.id is required");
        };
        if !self.state().groups.contains_key(&email) {
            return google_error(404, "Requested entity was not found.");
        }
        (200, vec![], json!({"name": format!("groups/{}", group_id(&email))}).to_string())
    }

    fn membership(&self, path: &str, query: &str) -> (u16, Vec<(String, String)>, String) {
        if let Some(rest) = path.strip_prefix("/v1/groups/").and_then(|r| r.strip_suffix("/memberships:checkTransitiveMembership")) {
            let member = query_param(query, "query").and_then(|q| member_key_from_query(&q));
            let (Some(group), Some(member)) = (self.group_by_id(rest), member) else {
                return google_error(404, "Requested entity was not found.");
            };
            return (200, vec![], json!({"hasMembership": self.is_member(&group, &member)}).to_string());
        }
        if let Some(rest) = path.strip_prefix("/admin/directory/v1/groups/") {
            let Some((group, member)) = rest.split_once("/hasMember/") else {
                return google_error(404, "Not Found");
            };
            let (group, member) = (percent_decode(group), percent_decode(member));
            if !self.state().groups.contains_key(&group) {
                return google_error(404, "Resource Not Found: groupKey");
            }
            return (200, vec![], json!({"isMember": self.is_member(&group, &member)}).to_string());
        }
        google_error(404, "Not Found")
    }

    fn group_by_id(&self, id: &str) -> Option<String> {
        self.state().groups.keys().find(|email| group_id(email) == id).cloned()
    }

    /// Direct or through nested groups; cycles end the walk.
    fn is_member(&self, group: &str, member: &str) -> bool {
        let state = self.state();
        let mut seen = BTreeSet::new();
        let mut queue = vec![group.to_owned()];
        while let Some(current) = queue.pop() {
            if !seen.insert(current.clone()) {
                continue;
            }
            for m in state.groups.get(&current).into_iter().flatten() {
                if m.eq_ignore_ascii_case(member) {
                    return true;
                }
                queue.push(m.clone());
            }
        }
        false
    }
}

/// Drops the oldest of `keys`, never the last one.
fn retire_oldest<T>(keys: &mut Vec<T>) {
    if keys.len() > 1 {
        keys.remove(0);
    }
}

/// A new Chat signing key and its self-signed certificate.
fn chat_key(kid: &str) -> Result<(SigningKey, String), String> {
    let key = SigningKey::generate_rs256(kid)?;
    let pem = certificate_pem(&key, CHAT_SIGNER)?;
    Ok((key, pem))
}

fn kid_of(key: &SigningKey) -> String {
    key.public_jwk()["kid"].as_str().unwrap_or_default().to_owned()
}

fn group_id(email: &str) -> String {
    email.split('@').next().unwrap_or("").bytes().map(|b| format!("{b:02x}")).collect()
}

/// `member_key_id == 'alice@example.com'` (the CEL query Cloud Identity documents).
fn member_key_from_query(query: &str) -> Option<String> {
    let value = query.split_once("==")?.1.trim();
    Some(value.trim_matches(|c| c == '\'' || c == '"').to_owned())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| percent_decode(v))
}


/// Google's JSON error body: `{"error": {"code", "message", "status"}}`.
fn google_error(code: u16, message: &str) -> (u16, Vec<(String, String)>, String) {
    let status = match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    (code, vec![], json!({"error": {"code": code, "message": message, "status": status}}).to_string())
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}
