//! The gate's door for people in browsers (`sign_in`): the session cookie read as a
//! caller, navigations without one sent to Google, the callback's code exchange and
//! ID token turned into a session, sign-out, and the refusal page. Callers with a
//! token never pass through here; API calls are never redirected.

use crate::gate::{Credentials, Gate, Outcome, RequestFacts, Verdict, Verified, printable};
use crate::request::RequestHeaders;
use crate::respond::LocalResponse;
use crate::session::exchange::{self, Callback, ExchangeAnswer, ExchangeRequest};
use crate::session::flow::{self, FLOW_RANDOM_BYTES, Flow, cookie_name};
use crate::session::page::{self, Refusal};
use crate::session::setup::SignIn;
use crate::session::signin::{AuthorizationRequest, is_cross_origin_write, is_navigation, return_path};
use crate::session::{Session, chunks, cookies, pkce};
use crate::policy::pattern::RequestShape;
use crate::reason::Reason;
use crate::verify::{Identity, Rejection};
use std::rc::Rc;

/// What the door does with a request for one of its own paths.
pub(crate) enum Door {
    /// Answer it here: sign-out, or a callback that cannot go on.
    Answer(Reason, LocalResponse),
    /// A callback to exchange the code of.
    Exchange(ExchangeRequest),
    /// A callback whose code was exchanged.
    Callback(Box<Flow>, ExchangeAnswer),
}

/// Cache keys of sessions start with this, so no token can ever be read as one.
const SESSION_CACHE_TAG: &[u8] = b"\0session\0";

impl Gate {
    /// The door's answer when the request is for the sign-out or callback path.
    pub(crate) fn browser_door(&self, facts: &RequestFacts, request: &impl RequestHeaders, now_ms: u64) -> Option<Door> {
        let sign_in = self.settings.sign_in.as_ref()?;
        let path = facts.path_without_query();
        if path == sign_in.sign_out_path.as_bytes() {
            return Some(Door::Answer(Reason::SignedOut, sign_out(sign_in, request)));
        }
        if path != sign_in.callback_path.as_bytes() {
            return None;
        }
        let callback = Callback::read(&facts.raw_path);
        let failed = |reason: Reason| Door::Answer(reason, failure_page(reason, facts));
        if callback.error.is_some() {
            return Some(failed(Reason::SignInCancelled));
        }
        let (Some(code), Some(state)) = (callback.code, callback.state) else { return Some(failed(Reason::SignInStateInvalid)) };
        let Some(flow) = Flow::find(request, &state, sign_in, now_ms / 1000) else { return Some(failed(Reason::SignInStateInvalid)) };
        Some(match request.exchanged() {
            Some(answer) => Door::Callback(Box::new(flow), answer.clone()),
            None => Door::Exchange(ExchangeRequest::new(sign_in, &code, &flow.verifier)),
        })
    }

    /// The verdict on a request the door took.
    pub(crate) fn through_door(&mut self, door: Door, mut facts: RequestFacts, request: &impl RequestHeaders, now_ms: u64, may_wait: bool) -> Verdict {
        // The callback's query holds the authorization code: never logged.
        facts.path = printable(facts.path_without_query());
        match door {
            Door::Answer(reason, response) => self.verdict(&facts, Outcome::early(reason), &Credentials::signed_in(None), Some(response), request, now_ms),
            Door::Exchange(exchange) => {
                let mut verdict = self.verdict(&facts, Outcome::early(Reason::SignInExchangeFailed), &Credentials::signed_in(None), Some(failure_page(Reason::SignInExchangeFailed, &facts)), request, now_ms);
                verdict.log_line = None;
                verdict.awaiting_exchange = Some(Box::new(exchange));
                verdict
            }
            Door::Callback(flow, answer) => self.signed_in(*flow, &answer, facts, request, now_ms, may_wait),
        }
    }

    /// A callback with the token endpoint's answer: the ID token verified as this
    /// sign-in's, the policy decided for the page the person asked for, the session
    /// set, and the browser sent back (or shown why not).
    fn signed_in(&mut self, flow: Flow, answer: &ExchangeAnswer, facts: RequestFacts, request: &impl RequestHeaders, now_ms: u64, may_wait: bool) -> Verdict {
        let failed = |gate: &mut Gate, outcome: Outcome| {
            let mut response = failure_page(outcome.reason, &facts);
            response.headers.push(clear_flow(gate, &flow));
            gate.verdict(&facts, outcome, &Credentials::signed_in(None), Some(response), request, now_ms)
        };
        let Some(id_token) = exchange::id_token(answer) else { return failed(self, Outcome::early(Reason::SignInExchangeFailed)) };
        let verified = match self.authenticate(id_token.as_bytes(), now_ms / 1000) {
            Ok(verified) => verified,
            Err(Rejection { reason, provider }) => {
                let key_provider = provider.filter(|&i| self.is_remote(i));
                let mut outcome = Outcome::early(reason);
                outcome.key_provider = key_provider;
                return failed(self, outcome);
            }
        };
        if !self.is_this_sign_in(&verified.identity, &id_token, &flow) || verified.caller.via.is_some() {
            return failed(self, Outcome::early(Reason::SignInTokenMismatch));
        }
        let now = now_ms / 1000;
        let identity = &verified.identity;
        let session = Session { subject: identity.subject.clone(), email: identity.email.clone(), domain: identity.domain.clone(), signed_in_at: now, seen_at: now };
        let person = Rc::new(Verified { identity: identity.clone(), caller: verified.caller.clone(), session: Some(session.clone()) });
        let page_facts = RequestFacts::for_page(&facts, &flow.return_to);
        let mut outcome = self.evaluate(&page_facts, &Credentials::signed_in(Some(person)), request, now_ms, may_wait);
        let mut response = match outcome.reason {
            reason if reason.admits() => {
                outcome.reason = Reason::SignedIn;
                redirect(&flow.return_to)
            }
            _ if self.status(&outcome) == 403 => self.refusal_page(&outcome, &page_facts),
            reason => failure_page(reason, &facts),
        };
        let Some(cookies) = self.session_cookies(&session, request, now) else { return failed(self, Outcome::early(Reason::SignInExchangeFailed)) };
        response.headers.extend(cookies);
        response.headers.push(clear_flow(self, &flow));
        self.verdict(&page_facts, outcome, &Credentials::signed_in(None), Some(response), request, now_ms)
    }

    /// Whether a verified ID token is this sign-in's: verified by the sign-in's
    /// provider, issued to its client, carrying its `nonce`, in its hosted domain.
    fn is_this_sign_in(&self, identity: &Identity, id_token: &str, flow: &Flow) -> bool {
        let Some(sign_in) = self.settings.sign_in.as_ref() else { return false };
        let domain_ok = sign_in.hosted_domain.as_deref().is_none_or(|hd| identity.domain.as_deref() == Some(hd));
        identity.provider == sign_in.provider
            && identity.audiences.contains(&sign_in.client_id)
            && exchange::nonce(id_token).is_some_and(|nonce| nonce == flow.nonce)
            && domain_ok
    }

    /// The caller a request's session cookie holds, where sign-in applies.
    pub(crate) fn session_of(&mut self, request: &dyn RequestHeaders, shape: &RequestShape, now_ms: u64) -> Option<Rc<Verified>> {
        let sign_in = self.settings.sign_in.as_ref().filter(|s| s.applies_to(shape))?;
        let sealed = chunks::join(&sign_in.cookies.session, request)?;
        if is_cross_origin_write(request) {
            return None;
        }
        let key = [SESSION_CACHE_TAG, &sealed].concat();
        let now = now_ms / 1000;
        if let Some(verified) = self.cache.get(&key, now) {
            return Some(verified);
        }
        let session = sign_in.open_session(&sealed)?;
        if !session.valid_at(now, sign_in.lifetimes) {
            return None;
        }
        let verified = Rc::new(self.session_caller(sign_in, session));
        self.cache.insert(&key, Rc::clone(&verified), now);
        Some(verified)
    }

    /// The caller a valid session stands for, as a verified ID token of the sign-in's
    /// provider would.
    fn session_caller(&self, sign_in: &SignIn, session: Session) -> Verified {
        let provider = self.settings.verifier.provider(sign_in.provider);
        let identity = Identity {
            provider: sign_in.provider,
            subject: session.subject.clone(),
            email: session.email.clone(),
            domain: session.domain.clone(),
            groups: Vec::new(),
            expires_at: session.expires_at(sign_in.lifetimes),
            issuer: provider.and_then(|p| p.issuers.first().cloned()).unwrap_or_default(),
            audiences: vec![sign_in.client_id.clone()],
            authorized_party: Some(sign_in.client_id.clone()),
        };
        let mut caller = self.settings.policy.caller(identity.email.as_deref(), identity.domain.as_deref(), &[]);
        caller.provider = provider.map(|p| Rc::clone(&p.name));
        Verified { identity, caller, session: Some(session) }
    }

    /// What a browser gets instead of the JSON refusal: a navigation without a
    /// session where sign-in applies is sent to Google; a signed-in person the
    /// policy refuses sees the refusal page. `None`: the usual answer.
    pub(crate) fn browser_answer(&mut self, facts: &RequestFacts, outcome: &mut Outcome, request: &impl RequestHeaders, now_ms: u64) -> Option<LocalResponse> {
        self.settings.sign_in.as_ref()?;
        if outcome.reason.admits() || !is_navigation(request) {
            return None;
        }
        let signed_in = outcome.verified.as_ref().is_some_and(|v| v.session.is_some());
        if signed_in && self.status(outcome) == 403 {
            return Some(self.refusal_page(outcome, facts));
        }
        if outcome.reason != Reason::MissingToken {
            return None;
        }
        let response = self.start_sign_in(facts, request, now_ms / 1000)?;
        outcome.reason = Reason::SignInStarted;
        Some(response)
    }

    /// A 302 to Google's authorization endpoint with this sign-in's own cookie, for a
    /// request where sign-in applies; `None` where it does not, or no random bytes
    /// could be drawn (the caller then gets the usual 401).
    fn start_sign_in(&mut self, facts: &RequestFacts, request: &impl RequestHeaders, now: u64) -> Option<LocalResponse> {
        let shape = RequestShape::new(&facts.raw_authority, &facts.raw_path, &facts.raw_method).ok()?;
        let random = self.random.as_mut()?.bytes::<FLOW_RANDOM_BYTES>()?;
        let sign_in = self.settings.sign_in.as_ref().filter(|s| s.applies_to(&shape) && s.starts_on(&facts.raw_authority))?;
        let (flow, seal_nonce) = Flow::begin(&random, return_path(&facts.raw_path), now);
        let (name, value) = flow.cookie(sign_in, seal_nonce)?;
        let url = AuthorizationRequest {
            client_id: &sign_in.client_id,
            redirect_uri: &sign_in.redirect_uri,
            state: &flow.state,
            nonce: &flow.nonce,
            code_challenge: &pkce::challenge(&flow.verifier),
            hosted_domain: sign_in.hosted_domain.as_deref(),
            login_hint: None,
        }
        .url(&sign_in.authorization_endpoint);
        let mut response = redirect(&url);
        let dropped = flow::to_drop(request, sign_in).into_iter().map(|old| ("set-cookie".to_owned(), cookies::clear(&sign_in.cookies, &old)));
        response.headers.extend(dropped);
        response.headers.push(("set-cookie".to_owned(), cookies::set(&sign_in.cookies, &name, &value, flow::FLOW_SECONDS)));
        Some(response)
    }

    /// The 403 page for a signed-in person.
    fn refusal_page(&self, outcome: &Outcome, facts: &RequestFacts) -> LocalResponse {
        let sign_in = self.settings.sign_in.as_ref();
        let email = outcome.verified.as_ref().and_then(|v| v.identity.email.as_deref()).unwrap_or("an account without an email");
        let shape = RequestShape::new(&facts.raw_authority, &facts.raw_path, &facts.raw_method).ok();
        let groups_in_play = shape.filter(|_| sign_in.is_some_and(|s| s.refusal_page_names_groups)).map(|shape| self.settings.policy.groups_in_play(&shape));
        let groups = groups_in_play.as_ref().map(|set| self.settings.policy.group_names(set).collect());
        page::refused(&Refusal {
            status: self.status(outcome),
            reason: outcome.reason.code(),
            email,
            sign_out_path: sign_in.map_or("/", |s| &s.sign_out_path),
            request_id: &facts.request_id,
            groups,
        })
    }

    /// `Set-Cookie` headers that hold `session` (and clear chunks of a longer one
    /// the request still carries); `None` if it cannot be sealed.
    fn session_cookies(&mut self, session: &Session, request: &impl RequestHeaders, now: u64) -> Option<Vec<(String, String)>> {
        let seal_nonce = self.random.as_mut()?.bytes::<12>()?;
        let sign_in = self.settings.sign_in.as_ref()?;
        let names = &sign_in.cookies;
        let sealed = sign_in.seal_session(session, seal_nonce)?;
        let pieces = chunks::split(&names.session, &sealed)?;
        let max_age = session.signed_in_at.saturating_add(sign_in.lifetimes.absolute_seconds).saturating_sub(now);
        let mut headers: Vec<(String, String)> = pieces.iter().map(|(name, value)| ("set-cookie".to_owned(), cookies::set(names, name, value, max_age))).collect();
        headers.extend(chunks::carried_from(&names.session, pieces.len(), request).into_iter().map(|name| ("set-cookie".to_owned(), cookies::clear(names, &name))));
        Some(headers)
    }

    /// `Set-Cookie` headers for a forwarded request whose session is due for a
    /// refresh (see [`Session::due_for_refresh`]).
    pub(crate) fn session_refresh(&mut self, verified: Option<&Verified>, now_ms: u64) -> Vec<(String, String)> {
        let now = now_ms / 1000;
        let (Some(session), Some(sign_in)) = (verified.and_then(|v| v.session.as_ref()), self.settings.sign_in.as_ref()) else { return Vec::new() };
        if !session.due_for_refresh(now, sign_in.lifetimes) {
            return Vec::new();
        }
        let refreshed = Session { seen_at: now, ..session.clone() };
        self.session_cookies(&refreshed, &crate::request::RequestSnapshot::default(), now).unwrap_or_default()
    }
}

impl RequestFacts {
    /// The path without its query.
    fn path_without_query(&self) -> &[u8] {
        self.raw_path.split(|&b| b == b'?').next().unwrap_or_default()
    }

    /// The facts of a `GET` of `path` on the same host: the page a person asked for
    /// before signing in, decided when they come back.
    fn for_page(facts: &RequestFacts, path: &str) -> RequestFacts {
        RequestFacts {
            method_overrides: Vec::new(),
            raw_path: path.as_bytes().to_vec(),
            raw_authority: facts.raw_authority.clone(),
            raw_method: b"GET".to_vec(),
            method: "GET".to_owned(),
            authority: facts.authority.clone(),
            path: printable(path.as_bytes()),
            request_id: facts.request_id.clone(),
        }
    }
}

/// A 302 to `location`, never cached.
fn redirect(location: &str) -> LocalResponse {
    let headers = vec![("location".to_owned(), location.to_owned()), ("cache-control".to_owned(), "no-store".to_owned())];
    LocalResponse { status: 302, headers, body: String::new() }
}

/// The sign-out answer: every session chunk cleared, the browser sent on.
fn sign_out(sign_in: &SignIn, request: &impl RequestHeaders) -> LocalResponse {
    let names = &sign_in.cookies;
    let mut response = redirect(&sign_in.signed_out_url);
    let carried = chunks::carried_from(&names.session, 0, request);
    // Not `Clear-Site-Data`: browsers apply it to the whole registrable domain, so one
    // link to this path would sign a person out of every sibling app.
    response.headers.extend(carried.into_iter().map(|name| ("set-cookie".to_owned(), cookies::clear(names, &name))));
    response
}

/// The page of a sign-in that did not finish, with a way to start again at `/`.
fn failure_page(reason: Reason, facts: &RequestFacts) -> LocalResponse {
    page::sign_in_failed(reason.status(), reason.code(), reason.description(), "/", &facts.request_id)
}

/// `Set-Cookie` dropping `flow`'s own cookie: a code is exchanged once.
fn clear_flow(gate: &Gate, flow: &Flow) -> (String, String) {
    let names = gate.settings.sign_in.as_ref().map(|s| &s.cookies);
    let value = names.and_then(|names| Some(cookies::clear(names, &cookie_name(names, &flow.state)?))).unwrap_or_default();
    ("set-cookie".to_owned(), value)
}
