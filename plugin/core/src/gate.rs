//! The gate: one decision per request, from the request's headers and the time, with
//! everything the proxy must then do spelled out (headers to set, or the response to
//! send) and a log line saying why.

use crate::cache::{Cacheable, TokenCache, text_bytes};
use crate::config::DecisionLog;
use crate::header_edit::HeaderEdit;
use crate::header_syntax;
use crate::extract::{FoundToken, TokenSource, cookie_header_without, find_token};
use crate::group_cache::{GroupCache, GroupStats, LookupKey};
use crate::group_lookup::GroupLookup;
use crate::jwks::{KeySet, parse_fetched_jwks};
use crate::key_refresh::{KeyFormat, RemoteJwks};
use crate::x509_keys::parse_certificate_map;
use crate::live_groups::{self, Live};
use crate::log::DecisionRecord;
use crate::policy::callers::{CallerId, OnBehalfOf, TokenFacts, client_project};
use crate::policy::index::RuleId;
use crate::policy::groups::{GroupId, GroupSet};
use crate::policy::pattern::{RequestShape, Unmatchable};
use crate::policy::subjects::Caller;
use crate::policy::{Policy, PolicyDecision};
use crate::policy_config::Effect;
use crate::reason::Reason;
use crate::request::{RequestHeaders, RequestSnapshot};
use crate::respond::{LocalResponse, refusal};
use crate::settings::{ConfigErrors, Settings};
use crate::session::exchange::ExchangeRequest;
use crate::session::setup::Environment;
use crate::session::{RandomSource, Session, cookies};
use crate::verify::{Identity, Rejection};
use std::collections::HashMap;
use std::rc::Rc;

/// What the proxy does with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward it upstream after setting and removing these request headers. The
    /// headers of [`Gate::forged_identity_headers`] must already be gone.
    Forward { set: Vec<(String, Vec<u8>)>, remove: Vec<String> },
    /// Answer it here.
    Respond(LocalResponse),
}

impl Action {
    /// What forwarding changes in the request's headers, removals first; none when
    /// the request is answered here.
    pub fn header_edits(&self) -> Vec<HeaderEdit<'_>> {
        match self {
            Action::Forward { set, remove } => {
                let removals = remove.iter().map(|name| HeaderEdit::Remove(name));
                removals.chain(set.iter().map(|(name, value)| HeaderEdit::Set(name, value))).collect()
            }
            Action::Respond(_) => Vec::new(),
        }
    }
}

/// A verified token's caller, as cached: the identity from the token and the caller
/// the policy sees (groups resolved).
#[derive(Debug)]
pub struct Verified {
    pub identity: Identity,
    pub caller: Caller,
    /// The browser session this caller came with (`sign_in`); `None` for a token.
    pub session: Option<Session>,
}

impl Cacheable for Verified {
    fn expires_at(&self) -> u64 {
        self.identity.expires_at
    }

    fn footprint(&self) -> usize {
        let session = self.session.as_ref().map_or(0, |s| std::mem::size_of::<Session>() + s.subject.len() + text_bytes(&s.email) + text_bytes(&s.domain));
        self.identity.footprint() + text_bytes(&self.caller.email) + text_bytes(&self.caller.domain) + self.caller.groups.footprint() + session
    }
}

/// The rule that decided, for explanations and per-rule metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidingRule {
    pub id: RuleId,
    pub name: Rc<str>,
    pub effect: Effect,
}

/// A decision and its explanation.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub reason: Reason,
    /// `None` when the policy's default decided, or no policy was consulted.
    pub rule: Option<DecidingRule>,
    /// Dry-run: the reason the request would have been refused, and by which rule.
    pub would_deny: Option<(Reason, Option<Rc<str>>)>,
    pub verified: Option<Rc<Verified>>,
    pub action: Action,
    /// Headers to add to the upstream's response (the opt-in explanation header).
    pub response_headers: Vec<(String, String)>,
    /// The JSON decision log line; `None` when `decision_log` leaves this decision out.
    pub log_line: Option<String>,
    /// The token was refused because this (remote) provider's keys lack its `kid` or
    /// are unavailable: new keys might change the decision, so the proxy may hold the
    /// request while they are fetched and decide again.
    pub awaiting_keys: Option<usize>,
    /// Live group lookups that can change the decision are under way: hold the
    /// request and decide again (with [`Gate::decide_now`] once it cannot wait more).
    pub awaiting_groups: bool,
    /// The caller acts for a user whose token is in the body: read at most this many
    /// bytes of it (one more, if there are more) and decide again with the body
    /// ([`RequestHeaders::body`]). Nothing else of this verdict is to be acted on.
    pub awaiting_body: Option<usize>,
    /// A sign-in callback: make this code exchange, then decide again with its
    /// answer ([`RequestHeaders::exchanged`]). Nothing else of this verdict is to be
    /// acted on.
    pub awaiting_exchange: Option<Box<ExchangeRequest>>,
}

/// A compiled configuration plus this VM's token cache.
#[derive(Debug)]
pub struct Gate {
    pub(crate) settings: Settings,
    pub(crate) cache: TokenCache<Verified>,
    /// Live group answers, when `group_lookup` is configured.
    groups: Option<GroupCache>,
    /// When each remote provider's keys are next fetched (Unix ms), by index.
    next_key_fetch: HashMap<usize, u64>,
    /// Random bytes for sign-ins and session seals; `None` until the proxy gives a source.
    pub(crate) random: Option<RandomSource>,
}

/// What the request presents as its caller: a token (or more than one, which makes
/// it ambiguous), or a person a sign-in just verified.
pub(crate) struct Credentials<'a> {
    pub(crate) token: Option<&'a FoundToken>,
    pub(crate) ambiguous: bool,
    pub(crate) signed_in: Option<Rc<Verified>>,
}

impl Credentials<'_> {
    /// Nothing but who a sign-in verified (or nobody).
    pub(crate) fn signed_in(person: Option<Rc<Verified>>) -> Self {
        Credentials { token: None, ambiguous: false, signed_in: person }
    }
}

/// What the decision was based on, before it is turned into an action.
pub(crate) struct Outcome {
    pub(crate) reason: Reason,
    rule: Option<DecidingRule>,
    policy_decided: bool,
    pub(crate) would_deny: Option<(Reason, Option<Rc<str>>)>,
    pub(crate) verified: Option<Rc<Verified>>,
    /// The remote provider whose keys refused the token (see [`Verdict::awaiting_keys`]).
    pub(crate) key_provider: Option<usize>,
    /// The caller's groups with live memberships added, when any were looked at.
    live_groups: Option<GroupSet>,
    awaiting_groups: bool,
    /// The named caller whose own token carried `verified`'s (an add-on acting for a
    /// user); `None` when the caller's own token decided.
    carrier: Option<Rc<Verified>>,
    /// The reason is about the carried user token.
    user_token_failed: bool,
    awaiting_body: Option<usize>,
}

impl Outcome {
    pub(crate) fn early(reason: Reason) -> Self {
        Outcome {
            reason,
            rule: None,
            policy_decided: false,
            would_deny: None,
            verified: None,
            key_provider: None,
            live_groups: None,
            awaiting_groups: false,
            carrier: None,
            user_token_failed: false,
            awaiting_body: None,
        }
    }

    /// A decision that ends at the carried user token.
    fn carried(reason: Reason, carrier: &Rc<Verified>) -> Self {
        Outcome { carrier: Some(Rc::clone(carrier)), user_token_failed: true, ..Outcome::early(reason) }
    }

    /// The named caller the request came through, if any.
    fn via(&self) -> Option<CallerId> {
        self.carrier.as_ref().or(self.verified.as_ref()).and_then(|v| v.caller.via)
    }
}

/// The groups header is bounded; upstreams must rely on the gate's decision, not on
/// finding every group in it.
const GROUPS_HEADER_LIMIT: usize = 4096;

impl Gate {
    pub fn new(settings: Settings) -> Self {
        let cache = TokenCache::new(settings.token_cache_entries, settings.token_cache_bytes);
        let groups = settings.group_lookup.clone().map(GroupCache::new);
        Self { settings, cache, groups, next_key_fetch: HashMap::new(), random: None }
    }

    pub fn from_json(json: &[u8]) -> Result<Self, ConfigErrors> {
        Settings::from_json(json).map(Gate::new)
    }

    /// A gate whose secrets (`sign_in`'s) are read from `env`.
    pub fn from_json_with_env(json: &[u8], env: Environment<'_>) -> Result<Self, ConfigErrors> {
        Settings::from_json_with_env(json, env).map(Gate::new)
    }

    /// Where sign-ins and session seals draw their random bytes.
    pub fn set_random_source(&mut self, source: RandomSource) {
        self.random = Some(source);
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// How many verified tokens this gate remembers.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// The configured identity headers, which only the gate may set.
    pub fn identity_header_names(&self) -> [&str; 5] {
        self.settings.identity_headers.all()
    }

    /// The names of the headers in `request` that must be removed from it, whatever the
    /// decision, before anything else: every spelling an upstream could read as an
    /// identity header (see [`crate::settings::IdentityHeaders::could_be_read_as_one`]).
    pub fn forged_identity_headers(&self, request: &RequestSnapshot) -> Vec<String> {
        let mut names: Vec<String> = request
            .names()
            .filter(|name| self.settings.identity_headers.could_be_read_as_one(name))
            .map(str::to_owned)
            .collect();
        names.dedup();
        names
    }

    /// The providers whose keys are fetched, by provider index.
    pub fn remote_providers(&self) -> impl Iterator<Item = (usize, &RemoteJwks)> {
        self.settings.verifier.providers().iter().enumerate().filter_map(|(i, p)| Some((i, p.remote.as_ref()?)))
    }

    /// Parses a fetched key document (see [`Gate::parse_fetched_keys`]) and, if it is
    /// good, makes it provider `index`'s keys.
    /// Returns how many keys it holds; on error the current keys stay.
    pub fn install_fetched_keys(&mut self, index: usize, body: &[u8]) -> Result<usize, String> {
        let keys = self.parse_fetched_keys(index, body)?;
        let count = keys.len();
        self.install_keys(index, keys);
        Ok(count)
    }

    /// The keys of a fetched key document (a JWKS, or a certificate map for
    /// `remote_x509`) that provider `index` can use; an error if the document is not
    /// usable for it.
    pub fn parse_fetched_keys(&self, index: usize, body: &[u8]) -> Result<KeySet, String> {
        let provider = self.settings.verifier.provider(index).ok_or("no such provider")?;
        match provider.remote.as_ref().map(|remote| remote.format) {
            Some(KeyFormat::X509) => parse_certificate_map(body, &provider.algorithms),
            _ => parse_fetched_jwks(body, &provider.algorithms),
        }
    }

    /// Makes `keys` (from [`Gate::parse_fetched_keys`]) provider `index`'s keys.
    pub fn install_keys(&mut self, index: usize, keys: KeySet) {
        self.settings.verifier.install_keys(index, keys);
    }

    /// Forgets provider `index`'s keys: they are stale beyond the bound. Tokens it
    /// already verified stay cached until they expire.
    pub fn drop_keys(&mut self, index: usize) {
        self.settings.verifier.install_keys(index, KeySet::new());
    }

    /// Live group lookup settings, if configured.
    pub fn group_lookup(&self) -> Option<&GroupLookup> {
        self.groups.as_ref().map(GroupCache::rules)
    }

    /// Whether decisions asked for group lookups that the proxy has yet to take.
    pub fn wants_group_lookups(&self) -> bool {
        self.groups.as_ref().is_some_and(GroupCache::wants_lookups)
    }

    /// The group lookups decisions asked for since the last call, for the proxy to make.
    pub fn take_group_lookups(&mut self) -> Vec<LookupKey> {
        self.groups.as_mut().map(GroupCache::take_wanted).unwrap_or_default()
    }

    /// A group lookup answered (`Ok(member)`) or failed (`Err(retry_after_seconds)`),
    /// at `now` (Unix ms).
    pub fn group_lookup_done(&mut self, key: &LookupKey, result: Result<bool, Option<u64>>, now: u64) {
        if let Some(cache) = self.groups.as_mut() {
            match result {
                Ok(member) => cache.answered(key, member, now),
                Err(retry_after) => cache.failed(key, now, retry_after),
            }
        }
    }

    /// Lookups that failed for one cause (the access token, a group's name): each
    /// settled as failed, and one backoff for all. `now` in Unix ms.
    pub fn group_lookups_failed(&mut self, keys: &[LookupKey], now: u64, retry_after: Option<u64>) {
        if let Some(cache) = self.groups.as_mut() {
            for key in keys {
                cache.abandon(key);
            }
            cache.back_off(now, retry_after);
        }
    }

    pub fn group_stats(&self) -> GroupStats {
        self.groups.as_ref().map(|cache| cache.stats).unwrap_or_default()
    }

    /// The email of referenced group `id`.
    pub fn group_email(&self, id: GroupId) -> &str {
        self.settings.policy.group_name(id)
    }

    /// Decides on `request` at `now_ms` (Unix milliseconds, the one clock of every
    /// time the gate keeps). The verdict may ask to hold the request
    /// (`awaiting_keys`, `awaiting_groups`).
    pub fn decide(&mut self, request: &impl RequestHeaders, now_ms: u64) -> Verdict {
        self.decide_with(request, now_ms, true)
    }

    /// Decides on a request that cannot be held any longer: lookups under way count as
    /// failed, so stale answers within their bound are used, or the failure mode applies.
    pub fn decide_now(&mut self, request: &impl RequestHeaders, now_ms: u64) -> Verdict {
        self.decide_with(request, now_ms, false)
    }

    fn decide_with(&mut self, request: &impl RequestHeaders, now_ms: u64, may_wait: bool) -> Verdict {
        let facts = RequestFacts::read(request);
        if let Some(door) = self.browser_door(&facts, request, now_ms) {
            return self.through_door(door, facts, request, now_ms, may_wait);
        }
        // A source holding two tokens makes the caller anonymous, like a bad token.
        let (token, ambiguous) = match find_token(&self.settings.token_sources, request) {
            Ok(token) => (token, false),
            Err(_) => (None, true),
        };
        let credentials = Credentials { token: token.as_ref(), ambiguous, signed_in: None };
        let mut outcome = self.evaluate(&facts, &credentials, request, now_ms, may_wait);
        let local = self.browser_answer(&facts, &mut outcome, request, now_ms);
        self.verdict(&facts, outcome, &credentials, local, request, now_ms)
    }

    /// The verdict on `outcome`: forwarded with the identity headers, or answered
    /// here (with `local`, when the browser door chose the answer).
    pub(crate) fn verdict(&mut self, facts: &RequestFacts, outcome: Outcome, credentials: &Credentials<'_>, local: Option<LocalResponse>, request: &impl RequestHeaders, now_ms: u64) -> Verdict {
        let Credentials { token, ambiguous, .. } = *credentials;
        let explanation = self.explanation(&outcome);
        let mut response_headers = Vec::new();
        let status = local.as_ref().map_or_else(|| self.status(&outcome), |response| response.status);
        let action = if let Some(response) = local {
            Action::Respond(response)
        } else if outcome.reason.admits() {
            response_headers.extend(explanation);
            response_headers.extend(self.session_refresh(outcome.verified.as_deref(), now_ms));
            self.forward(&outcome, token, request)
        } else {
            let mut response = refusal(outcome.reason, status, token.is_some() || ambiguous, &self.settings.realm, &facts.request_id);
            if status == 503 {
                response = response.retry_after(self.retry_in_ms(&outcome, now_ms));
            }
            response.headers.extend(explanation);
            Action::Respond(response)
        };
        let log_line = (self.logs(&outcome) && outcome.awaiting_body.is_none()).then(|| self.log_line(facts, &outcome, status));
        let awaiting_keys = outcome.key_provider.filter(|_| matches!(outcome.reason, Reason::UnknownKeyId | Reason::KeysUnavailable));
        Verdict {
            reason: outcome.reason,
            rule: outcome.rule,
            would_deny: outcome.would_deny,
            verified: outcome.verified,
            action,
            response_headers,
            log_line,
            awaiting_keys,
            awaiting_groups: outcome.awaiting_groups,
            awaiting_body: outcome.awaiting_body,
            awaiting_exchange: None,
        }
    }

    /// The status a decision gets: the reason's, except where the configuration picks
    /// it: a provider may answer missing keys with 401 instead of 503, and
    /// `group_lookup.on_failure` picks 403 or 503 for unresolvable groups.
    pub(crate) fn status(&self, outcome: &Outcome) -> u16 {
        if outcome.reason == Reason::GroupsUnavailable {
            return self.group_lookup().map_or(outcome.reason.status(), GroupLookup::failure_status);
        }
        let configured = outcome
            .key_provider
            .filter(|_| outcome.reason == Reason::KeysUnavailable)
            .and_then(|index| self.settings.verifier.provider(index)?.remote.as_ref())
            .map(|remote| remote.unavailable_status);
        configured.unwrap_or(outcome.reason.status())
    }

    /// When what a 503 lacked is next tried: the provider's next key fetch (as the
    /// outbound engine last saw it), or the end of the group lookups' backoff, or a
    /// lookup's timeout.
    fn retry_in_ms(&self, outcome: &Outcome, now_ms: u64) -> u64 {
        if outcome.reason == Reason::KeysUnavailable {
            let next = outcome.key_provider.and_then(|index| self.next_key_fetch.get(&index).copied());
            return next.map_or(0, |at| at.saturating_sub(now_ms));
        }
        self.groups.as_ref().map_or(0, |cache| match cache.backing_off_for(now_ms) {
            0 => cache.rules().timeout_ms,
            pause => pause,
        })
    }

    /// The outbound engine's word on when provider `index`'s keys are next fetched
    /// (Unix ms), for the `Retry-After` of requests refused for want of them.
    pub fn note_next_key_fetch(&mut self, index: usize, at_ms: u64) {
        self.next_key_fetch.insert(index, at_ms);
    }

    /// The decision on the caller: `token`'s, or `signed_in` (a sign-in's person),
    /// or the browser session's where sign-in applies, or nobody.
    pub(crate) fn evaluate(&mut self, facts: &RequestFacts, credentials: &Credentials<'_>, request: &dyn RequestHeaders, now_ms: u64, may_wait: bool) -> Outcome {
        let Credentials { token, ambiguous, ref signed_in } = *credentials;
        let overrides: Vec<&[u8]> = facts.method_overrides.iter().map(Vec::as_slice).collect();
        let shape = match RequestShape::read(&facts.raw_authority, &facts.raw_path, &facts.raw_method, &overrides) {
            Ok(shape) => shape,
            Err(Unmatchable::Path) => return Outcome::early(Reason::AmbiguousPath),
            Err(Unmatchable::Host) => return Outcome::early(Reason::AmbiguousHost),
        };
        // Why the caller is anonymous: no token, or one that failed; None once verified.
        let (verified, token_failure, key_provider) = match token {
            None if ambiguous => (None, Some(Reason::AmbiguousToken), None),
            None => match signed_in.clone().or_else(|| self.session_of(request, &shape, now_ms)) {
                Some(person) => (Some(person), None, None),
                None => (None, Some(Reason::MissingToken), None),
            },
            // Tokens count whole seconds (RFC 7519 NumericDate).
            Some(token) => match self.authenticate(&token.token, now_ms / 1000) {
                Ok(verified) => (Some(verified), None, None),
                Err(Rejection { reason, provider }) => (None, Some(reason), provider.filter(|&i| self.is_remote(i))),
            },
        };
        // A caller acting for a user: its token is verified, the user's decides.
        let carrier = verified.as_ref().filter(|v| self.on_behalf_of(v).is_some()).cloned();
        let verified = match &carrier {
            Some(carrier) => match self.carried_user(carrier, request, now_ms) {
                Ok(user) => Some(user),
                Err(outcome) => return *outcome,
            },
            None => verified,
        };
        // The user as the policy sees them: with the caller that carried them.
        let carried_caller = carrier.as_ref().zip(verified.as_ref()).map(|(carrier, user)| Caller { via: carrier.caller.via, ..user.caller.clone() });
        let own_caller = carried_caller.as_ref().or(verified.as_ref().map(|v| &v.caller));
        let live = match (own_caller, self.groups.as_mut()) {
            (Some(caller), Some(cache)) => live_groups::resolve(&self.settings.policy, cache, &shape, caller, now_ms, may_wait),
            _ => Live::AsIs,
        };
        let live_caller = match live {
            Live::AsIs => None,
            Live::Resolved(caller) => Some(caller),
            Live::Waiting => return Outcome { carrier, ..self.groups_unavailable(verified, true) },
            Live::Unavailable => return Outcome { carrier, ..self.groups_unavailable(verified, false) },
        };
        let anonymous = Caller::anonymous();
        let caller = live_caller.as_ref().or(own_caller).unwrap_or(&anonymous);
        let policy = &self.settings.policy;
        let decision = policy.evaluate(&shape, caller);
        let refused_as = |rule: Option<RuleId>| refusal_reason(rule, token_failure);
        let mut reason = reason_for(&decision, token_failure);
        let mut would_deny = dry_run_refusal(policy, &decision, refused_as);
        if !reason.admits() && policy.dry_run {
            would_deny = Some((reason, decision.rule.and_then(|id| policy.rule_name(id).cloned())));
            reason = Reason::DryRun;
        }
        let rule = decision.rule.and_then(|id| deciding_rule(policy, id));
        let live_groups = live_caller.map(|caller| caller.groups);
        Outcome { reason, rule, policy_decided: true, would_deny, verified, key_provider, live_groups, carrier, ..Outcome::early(reason) }
    }

    /// What the caller `verified` names must carry for a user, if anything.
    fn on_behalf_of(&self, verified: &Verified) -> Option<&OnBehalfOf> {
        let definition = self.settings.policy.caller_definition(verified.caller.via?)?;
        definition.on_behalf_of.as_ref()
    }

    /// The user `carrier` acts for, from the token in the request's body; or the
    /// outcome that ends the decision (the body is still to be read, too large, or
    /// its token missing, refused or not the carrier's).
    fn carried_user(&mut self, carrier: &Rc<Verified>, request: &dyn RequestHeaders, now_ms: u64) -> Result<Rc<Verified>, Box<Outcome>> {
        let limit = self.on_behalf_of(carrier).map_or(0, |o| o.max_body_bytes);
        let body = match request.body() {
            _ if declared_length(request).is_some_and(|length| length > limit as u64) => return Err(Box::new(Outcome::carried(Reason::BodyTooLarge, carrier))),
            None => return Err(Box::new(Outcome { awaiting_body: Some(limit), ..Outcome::carried(Reason::UserTokenMissing, carrier) })),
            Some(body) if body.len() > limit => return Err(Box::new(Outcome::carried(Reason::BodyTooLarge, carrier))),
            Some(body) => body,
        };
        let token = user_token_in(body).ok_or_else(|| Box::new(Outcome::carried(Reason::UserTokenMissing, carrier)))?;
        let user = self.authenticate(token.as_bytes(), now_ms / 1000).map_err(|Rejection { reason, provider }| {
            Box::new(Outcome { key_provider: provider.filter(|&i| self.is_remote(i)), ..Outcome::carried(reason, carrier) })
        })?;
        if !self.belongs_with(&user, carrier) {
            return Err(Box::new(Outcome::carried(Reason::UserTokenMismatch, carrier)));
        }
        Ok(user)
    }

    /// Whether a verified user token may ride with `carrier`'s: a person's token (no
    /// service account's, no named caller's), issued for the carrier: to an OAuth
    /// client of its project, or for an audience `on_behalf_of.audiences` lists; and
    /// to no other project's client.
    fn belongs_with(&self, user: &Verified, carrier: &Verified) -> bool {
        let Some(definition) = carrier.caller.via.and_then(|id| self.settings.policy.caller_definition(id)) else { return false };
        let Some(on_behalf) = &definition.on_behalf_of else { return false };
        let identity = &user.identity;
        let person = user.caller.via.is_none() && !identity.email.as_deref().is_none_or(is_service_account);
        let projects: Vec<&str> = identity.audiences.iter().chain(&identity.authorized_party).filter_map(|client| client_project(client)).collect();
        let own_project = |project: &&str| Some(*project) == definition.project_number.as_deref();
        let listed = identity.audiences.iter().any(|aud| on_behalf.audiences.contains(aud));
        person && (listed || projects.iter().any(own_project)) && projects.iter().all(own_project)
    }

    /// A verified caller whose decision depends on a group that cannot be resolved
    /// (yet, if `awaiting`). Refused, like any failure, unless the policy is in dry-run.
    fn groups_unavailable(&self, verified: Option<Rc<Verified>>, awaiting: bool) -> Outcome {
        let (reason, would_deny) = if self.settings.policy.dry_run {
            (Reason::DryRun, Some((Reason::GroupsUnavailable, None)))
        } else {
            (Reason::GroupsUnavailable, None)
        };
        Outcome { reason, would_deny, verified, awaiting_groups: awaiting, ..Outcome::early(reason) }
    }

    pub(crate) fn is_remote(&self, provider: usize) -> bool {
        self.settings.verifier.provider(provider).is_some_and(|p| p.remote.is_some())
    }

    pub(crate) fn authenticate(&mut self, token: &[u8], now: u64) -> Result<Rc<Verified>, Rejection> {
        if let Some(verified) = self.cache.get(token, now) {
            return Ok(verified);
        }
        let identity = self.settings.verifier.check(token, now)?;
        let mut caller = self.settings.policy.caller(identity.email.as_deref(), identity.domain.as_deref(), &identity.groups);
        let facts = TokenFacts { issuer: &identity.issuer, email: identity.email.as_deref(), audiences: &identity.audiences };
        caller.via = self.settings.policy.recognise(&facts);
        caller.provider = self.settings.verifier.provider(identity.provider).map(|p| Rc::clone(&p.name));
        let verified = Rc::new(Verified { identity, caller, session: None });
        self.cache.insert(token, Rc::clone(&verified), now);
        Ok(verified)
    }

    fn forward(&self, outcome: &Outcome, token: Option<&FoundToken>, request: &impl RequestHeaders) -> Action {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        if let Some(Verified { identity, caller, .. }) = outcome.verified.as_deref() {
            let names = &self.settings.identity_headers;
            push_header(&mut set, &names.email, identity.email.as_deref());
            push_header(&mut set, &names.subject, Some(&identity.subject));
            push_header(&mut set, &names.domain, identity.domain.as_deref());
            push_header(&mut set, &names.groups, Some(&self.groups_header(outcome.live_groups.as_ref().unwrap_or(&caller.groups))));
            push_header(&mut set, &names.via, self.via_label(outcome.via()));
        }
        if let Some(TokenSource::Header { name, .. }) = token.filter(|_| self.settings.strip_token).and_then(|t| self.settings.token_sources.get(t.source)) {
            remove.push(name.clone());
        }
        match self.cookies_forwarded(token, request) {
            Some(Some(rest)) => set.push(("cookie".to_owned(), rest)),
            Some(None) => remove.push("cookie".to_owned()),
            None => {}
        }
        Action::Forward { set, remove }
    }

    /// The `Cookie` header the upstream gets, if it differs from the request's
    /// (`Some(None)`: none at all): without the token's cookie when `strip_token`, and
    /// never with the gate's own cookies.
    fn cookies_forwarded(&self, token: Option<&FoundToken>, request: &impl RequestHeaders) -> Option<Option<Vec<u8>>> {
        let token_cookie = match token.filter(|_| self.settings.strip_token).and_then(|t| self.settings.token_sources.get(t.source)) {
            Some(TokenSource::Cookie { name }) => Some(name.as_str()),
            _ => None,
        };
        let headers = request.header_values("cookie");
        let own = self.settings.sign_in.as_ref().map(|s| &s.cookies).filter(|names| cookies::has_own(&headers, names));
        if token_cookie.is_none() && own.is_none() {
            return None;
        }
        // Every Cookie header, joined as RFC 6265 §5.4 does: a cookie may be in any.
        let mut rest = Some(headers.join(&b"; "[..]));
        if let Some(name) = token_cookie {
            rest = rest.and_then(|cookies| cookie_header_without(&cookies, name));
        }
        if let Some(names) = own {
            rest = rest.and_then(|cookies| cookies::without_own(&[&cookies], names));
        }
        Some(rest)
    }

    /// The caller's referenced groups, comma-separated, cut at a group boundary.
    fn groups_header(&self, groups: &GroupSet) -> String {
        let mut header = String::new();
        for name in self.settings.policy.group_names(groups) {
            if header.len() + name.len() + 1 > GROUPS_HEADER_LIMIT {
                break;
            }
            if !header.is_empty() {
                header.push(',');
            }
            header.push_str(name);
        }
        header
    }

    /// The opt-in explanation header: `deny; reason=not_allowed; rule=default`.
    fn explanation(&self, outcome: &Outcome) -> Option<(String, String)> {
        let header = self.settings.policy.explain_header.as_ref()?;
        let decision = if outcome.reason.admits() { "allow" } else { "deny" };
        let mut value = format!("{decision}; reason={}; rule={}", outcome.reason.code(), rule_label(outcome));
        if let Some((reason, rule)) = &outcome.would_deny {
            value.push_str(&format!("; would_deny={}; would_deny_rule={}", reason.code(), rule.as_deref().unwrap_or("default")));
        }
        Some((header.clone(), value))
    }

    fn logs(&self, outcome: &Outcome) -> bool {
        match self.settings.decision_log {
            DecisionLog::All => true,
            DecisionLog::Denied => !outcome.reason.admits() || outcome.would_deny.is_some(),
            DecisionLog::None => false,
        }
    }

    /// What the service and the log are told of the caller `via` names.
    fn via_label(&self, via: Option<CallerId>) -> Option<&str> {
        via.and_then(|id| self.settings.policy.caller_definition(id)).map(|definition| &*definition.via)
    }

    fn log_line(&self, facts: &RequestFacts, outcome: &Outcome, status: u16) -> String {
        let identity = outcome.verified.as_deref().map(|v| &v.identity);
        let carrier = outcome.carrier.as_deref().map(|v| &v.identity);
        let provider = identity
            .and_then(|id| self.settings.verifier.provider(id.provider))
            .map(|p| &*p.name);
        DecisionRecord {
            // A sign-in that ends with the person admitted is an allow, though the
            // browser is sent back (302) rather than forwarded.
            decision: if outcome.reason.admits() || outcome.reason == Reason::SignedIn { "allow" } else { "deny" },
            status,
            reason: outcome.reason.code(),
            rule: outcome.policy_decided.then(|| rule_label(outcome)),
            provider,
            email: identity.and_then(|id| id.email.as_deref()),
            subject: identity.map(|id| id.subject.as_str()),
            via: self.via_label(outcome.via()),
            via_email: carrier.map(|id| id.email.as_deref().unwrap_or(&id.subject)),
            failed_token: outcome.user_token_failed.then_some("user"),
            credential: outcome.verified.as_ref().and_then(|v| v.session.as_ref()).map(|_| "session"),
            would_deny: outcome.would_deny.as_ref().map(|(reason, _)| reason.code()),
            would_deny_rule: outcome.would_deny.as_ref().map(|(_, rule)| rule.as_deref().unwrap_or("default")),
            method: &facts.method,
            authority: &facts.authority,
            path: &facts.path,
            request_id: &facts.request_id,
        }
        .to_json()
    }
}

/// The reason for a policy decision. `token_failure` is why the caller is anonymous
/// (no token, or a token that failed), `None` for a verified caller.
pub fn reason_for(decision: &PolicyDecision, token_failure: Option<Reason>) -> Reason {
    match (decision.effect, token_failure) {
        (Effect::Allow, None) => Reason::Allowed,
        (Effect::Allow, Some(_)) => Reason::PublicPath,
        (Effect::Deny, _) => refusal_reason(decision.rule, token_failure),
    }
}

/// A caller without a valid token is refused for that (401, so clients know to
/// authenticate); a verified one by the rule (403) or the default (403).
fn refusal_reason(rule: Option<RuleId>, token_failure: Option<Reason>) -> Reason {
    match (token_failure, rule) {
        (Some(failure), _) => failure,
        (None, Some(_)) => Reason::DeniedByRule,
        (None, None) => Reason::NotAllowed,
    }
}

/// When only the dry-run rules would refuse the request: why, and by which rule.
fn dry_run_refusal(
    policy: &Policy,
    decision: &PolicyDecision,
    refused_as: impl Fn(Option<RuleId>) -> Reason,
) -> Option<(Reason, Option<Rc<str>>)> {
    match decision.dry_run {
        Some((Effect::Deny, rule)) if decision.effect == Effect::Allow => {
            Some((refused_as(rule), rule.and_then(|id| policy.rule_name(id).cloned())))
        }
        _ => None,
    }
}

fn deciding_rule(policy: &Policy, id: RuleId) -> Option<DecidingRule> {
    policy.rule(id).map(|rule| DecidingRule { id, name: rule.name.clone(), effect: rule.effect })
}

fn rule_label(outcome: &Outcome) -> &str {
    outcome.rule.as_ref().map_or("default", |rule| &rule.name)
}

/// Header values come from token claims; a value Envoy would refuse to forward (or
/// that could split a header) is left out rather than sent mangled, and so is one
/// with whitespace at either end, which an upstream's parser trims into another value
/// than the one the gate checked.
fn push_header(set: &mut Vec<(String, Vec<u8>)>, name: &str, value: Option<&str>) {
    let forwardable = |v: &&str| !v.is_empty() && v.trim() == *v && v.bytes().all(header_syntax::is_value_byte);
    if let Some(value) = value.filter(forwardable) {
        set.push((name.to_owned(), value.as_bytes().to_vec()));
    }
}

/// Google's accounts that are not people: service accounts, and Google's own.
fn is_service_account(email: &str) -> bool {
    email.ends_with(".gserviceaccount.com")
}

/// `Content-Length`, when there is exactly one and it is a number.
fn declared_length(request: &dyn RequestHeaders) -> Option<u64> {
    let value = request.header("content-length").filter(|_| request.header_count("content-length") == 1)?;
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The user token a Google product carries in its JSON body for the user it acts
/// for: `authorizationEventObject.userIdToken` (Workspace add-ons, Chat apps). A
/// body where either name appears twice, or also spelled in another case, has none:
/// a service that reads its body with a case-insensitive parser (Go's
/// `encoding/json`) could find another user there than the gate did.
fn user_token_in(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(rename = "authorizationEventObject")]
        authorization: Option<Authorization>,
        #[serde(flatten)]
        other: HashMap<String, serde::de::IgnoredAny>,
    }
    #[derive(serde::Deserialize)]
    struct Authorization {
        #[serde(rename = "userIdToken")]
        user_id_token: Option<String>,
        #[serde(flatten)]
        other: HashMap<String, serde::de::IgnoredAny>,
    }
    let spelled_otherwise = |other: &HashMap<String, serde::de::IgnoredAny>, name: &str| other.keys().any(|key| key.eq_ignore_ascii_case(name));
    let event: Event = serde_json::from_slice(body).ok()?;
    if spelled_otherwise(&event.other, "authorizationEventObject") {
        return None;
    }
    let authorization = event.authorization?;
    if spelled_otherwise(&authorization.other, "userIdToken") {
        return None;
    }
    authorization.user_id_token.filter(|token| !token.is_empty())
}

/// The request line, read once, made safe for logs and response bodies.
pub(crate) struct RequestFacts {
    /// Values of the method-override headers frameworks route by.
    pub(crate) method_overrides: Vec<Vec<u8>>,
    pub(crate) raw_path: Vec<u8>,
    pub(crate) raw_authority: Vec<u8>,
    pub(crate) raw_method: Vec<u8>,
    pub(crate) method: String,
    pub(crate) authority: String,
    pub(crate) path: String,
    pub(crate) request_id: String,
}

const LOGGED_FIELD_LIMIT: usize = 512;

/// Headers that make a framework route a request as another method: Express's
/// method-override, Symfony, Google's APIs and others honour one of these.
const METHOD_OVERRIDE_HEADERS: [&str; 3] = ["x-http-method-override", "x-http-method", "x-method-override"];

impl RequestFacts {
    fn read(request: &impl RequestHeaders) -> Self {
        let raw = |name: &str| request.header(name).unwrap_or_default().to_vec();
        let (raw_path, raw_authority, raw_method) = (raw(":path"), raw(":authority"), raw(":method"));
        let method_overrides = METHOD_OVERRIDE_HEADERS.iter().flat_map(|name| request.header_values(name)).map(<[u8]>::to_vec).collect();
        Self {
            method_overrides,
            method: printable(&raw_method),
            authority: printable(&raw_authority),
            path: printable(&raw_path),
            request_id: printable(&raw("x-request-id")),
            raw_path,
            raw_authority,
            raw_method,
        }
    }
}

/// Lossy, bounded, control characters replaced: logs must not be forgeable.
pub(crate) fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take(LOGGED_FIELD_LIMIT)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
