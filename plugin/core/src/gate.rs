//! The gate: one decision per request, from the request's headers and the time, with
//! everything the proxy must then do spelled out (headers to set, or the response to
//! send) and a log line saying why.

use crate::cache::TokenCache;
use crate::extract::{FoundToken, TokenSource, cookie_header_without, find_token};
use crate::log::DecisionRecord;
use crate::policy::RuleName;
use crate::reason::Reason;
use crate::request::RequestHeaders;
use crate::respond::{LocalResponse, refusal};
use crate::settings::{ConfigErrors, Settings};
use crate::verify::Identity;
use std::rc::Rc;

/// What the proxy does with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward it upstream after setting and removing these request headers. The
    /// identity headers of [`Gate::headers_to_strip`] must already be gone.
    Forward { set: Vec<(String, Vec<u8>)>, remove: Vec<String> },
    /// Answer it here.
    Respond(LocalResponse),
}

/// A decision and its explanation.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub reason: Reason,
    /// The policy entry that decided, when one did.
    pub rule: Option<RuleName>,
    pub identity: Option<Rc<Identity>>,
    pub action: Action,
    /// The JSON decision log line.
    pub log_line: String,
}

/// A compiled configuration plus this VM's token cache.
#[derive(Debug)]
pub struct Gate {
    settings: Settings,
    cache: TokenCache,
}

/// What the decision was based on, before it is turned into an action.
struct Outcome {
    reason: Reason,
    rule: Option<RuleName>,
    identity: Option<Rc<Identity>>,
}

impl Gate {
    pub fn new(settings: Settings) -> Self {
        let cache = TokenCache::new(settings.token_cache_entries);
        Self { settings, cache }
    }

    pub fn from_json(json: &[u8]) -> Result<Self, ConfigErrors> {
        Settings::from_json(json).map(Gate::new)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// How many verified tokens this gate remembers.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// Headers removed from every client request, whatever the decision, before
    /// anything else: only the gate may set them.
    pub fn headers_to_strip(&self) -> [&str; 3] {
        self.settings.identity_headers.all()
    }

    /// Decides on `request` at `now` (Unix seconds).
    pub fn decide(&mut self, request: &impl RequestHeaders, now: u64) -> Verdict {
        let facts = RequestFacts::read(request);
        let token = find_token(&self.settings.token_sources, request);
        let outcome = self.evaluate(&facts.raw_path, token.as_ref(), now);
        let action = if outcome.reason.admits() {
            self.forward(outcome.identity.as_deref(), token.as_ref(), request)
        } else {
            Action::Respond(refusal(outcome.reason, token.is_some(), &self.settings.realm, &facts.request_id))
        };
        let log_line = self.log_line(&facts, &outcome);
        Verdict { reason: outcome.reason, rule: outcome.rule, identity: outcome.identity, action, log_line }
    }

    fn evaluate(&mut self, path: &[u8], token: Option<&FoundToken>, now: u64) -> Outcome {
        if self.settings.policy.is_public(path) {
            return Outcome { reason: Reason::PublicPath, rule: Some("public_paths"), identity: None };
        }
        let Some(token) = token else {
            return Outcome { reason: Reason::MissingToken, rule: None, identity: None };
        };
        let identity = match self.authenticate(&token.token, now) {
            Ok(identity) => identity,
            Err(reason) => return Outcome { reason, rule: None, identity: None },
        };
        let rule = self.settings.policy.admits(&identity);
        let reason = if rule.is_some() { Reason::Allowed } else { Reason::NotAllowed };
        Outcome { reason, rule: rule.or(Some("default")), identity: Some(identity) }
    }

    fn authenticate(&mut self, token: &[u8], now: u64) -> Result<Rc<Identity>, Reason> {
        if let Some(identity) = self.cache.get(token, now) {
            return Ok(identity);
        }
        let identity = Rc::new(self.settings.verifier.verify(token, now)?);
        self.cache.insert(token, Rc::clone(&identity), now);
        Ok(identity)
    }

    fn forward(&self, identity: Option<&Identity>, token: Option<&FoundToken>, request: &impl RequestHeaders) -> Action {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        if let Some(identity) = identity {
            let names = &self.settings.identity_headers;
            push_header(&mut set, &names.email, identity.email.as_deref());
            push_header(&mut set, &names.subject, Some(&identity.subject));
            push_header(&mut set, &names.domain, identity.domain.as_deref());
        }
        if let Some(token) = token.filter(|_| self.settings.strip_token) {
            self.strip(token, request, &mut set, &mut remove);
        }
        Action::Forward { set, remove }
    }

    fn strip(&self, token: &FoundToken, request: &impl RequestHeaders, set: &mut Vec<(String, Vec<u8>)>, remove: &mut Vec<String>) {
        match self.settings.token_sources.get(token.source) {
            Some(TokenSource::Header { name, .. }) => remove.push(name.clone()),
            Some(TokenSource::Cookie { name }) => {
                let rest = request.header("cookie").and_then(|cookies| cookie_header_without(&cookies, name));
                match rest {
                    Some(rest) => set.push(("cookie".to_owned(), rest)),
                    None => remove.push("cookie".to_owned()),
                }
            }
            None => {}
        }
    }

    fn log_line(&self, facts: &RequestFacts, outcome: &Outcome) -> String {
        let identity = outcome.identity.as_deref();
        let provider = identity
            .and_then(|id| self.settings.verifier.provider(id.provider))
            .map(|p| p.name.as_str());
        DecisionRecord {
            decision: if outcome.reason.admits() { "allow" } else { "deny" },
            status: outcome.reason.status(),
            reason: outcome.reason.code(),
            rule: outcome.rule,
            provider,
            email: identity.and_then(|id| id.email.as_deref()),
            subject: identity.map(|id| id.subject.as_str()),
            method: &facts.method,
            authority: &facts.authority,
            path: &facts.path,
            request_id: &facts.request_id,
        }
        .to_json()
    }
}

/// Header values come from token claims; a value Envoy would refuse to forward (or
/// that could split a header) is left out rather than sent mangled.
fn push_header(set: &mut Vec<(String, Vec<u8>)>, name: &str, value: Option<&str>) {
    if let Some(value) = value.filter(|v| !v.is_empty() && v.bytes().all(|b| b >= 0x20 && b != 0x7f)) {
        set.push((name.to_owned(), value.as_bytes().to_vec()));
    }
}

/// The request line, read once, made safe for logs and response bodies.
struct RequestFacts {
    raw_path: Vec<u8>,
    method: String,
    authority: String,
    path: String,
    request_id: String,
}

const LOGGED_FIELD_LIMIT: usize = 512;

impl RequestFacts {
    fn read(request: &impl RequestHeaders) -> Self {
        let raw_path = request.header(":path").unwrap_or_default();
        let text = |name: &str| printable(&request.header(name).unwrap_or_default());
        Self {
            method: text(":method"),
            authority: text(":authority"),
            path: printable(&raw_path),
            request_id: text("x-request-id"),
            raw_path,
        }
    }
}

/// Lossy, bounded, control characters replaced: logs must not be forgeable.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take(LOGGED_FIELD_LIMIT)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
