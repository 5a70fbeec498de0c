//! Remote JWKS for one VM: which fetch to make and when (the shared
//! [`KeyRecord`] decides, so that one VM fetches for all), what a fetched document
//! must be before it is shared, and installing whatever any VM stored into this
//! VM's gate.

use super::call::{Answer, CallId, OutboundCall};
use super::effects::{Level, Metric, Outbox};
use super::shared::{self, SharedRecords};
use crate::gate::Gate;
use crate::jwks::KeySet;
use crate::key_refresh::{KeyRecord, RemoteJwks, UnknownKid, max_age};

/// A JWKS larger than this is not a JWKS.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// What to do with a request refused for want of a provider's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWait {
    /// Another VM stored new keys meanwhile: decide again now.
    DecideAgain,
    /// A fetch is under way (or claimed): pause the request until it ends, at most
    /// until this time (Unix ms).
    PauseUntil(u64),
    /// Nothing will change soon: answer now.
    AnswerNow,
}

/// One remote provider, as this VM sees it.
#[derive(Debug)]
struct RemoteProvider {
    index: usize,
    name: String,
    rules: RemoteJwks,
    /// The shared-data key: one record per endpoint, whatever the provider is called.
    record_key: String,
    /// The record's generation this VM's gate has installed.
    installed: u64,
    /// Whether this VM's gate holds usable keys.
    usable: bool,
    /// This VM's call in flight for it.
    in_flight: Option<CallId>,
    /// A request claimed a fetch; the root makes the call on its next tick, so that
    /// the answer comes back to the root even if that request is gone by then.
    claimed: bool,
}

/// Every remote provider of this VM.
#[derive(Debug, Default)]
pub struct KeyFetcher {
    providers: Vec<RemoteProvider>,
}

impl KeyFetcher {
    pub fn new(gate: &Gate) -> Self {
        let providers = gate
            .remote_providers()
            .map(|(index, rules)| RemoteProvider {
                index,
                name: gate.settings().verifier.provider(index).map_or_else(String::new, |p| p.name.to_string()),
                record_key: format!("wsgate.jwks.{}.{}{}", rules.cluster, rules.authority, rules.path),
                rules: rules.clone(),
                installed: 0,
                usable: false,
                in_flight: None,
                claimed: false,
            })
            .collect();
        Self { providers }
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The provider indexes, for defining their metrics.
    pub fn provider_indexes(&self) -> impl Iterator<Item = usize> + '_ {
        self.providers.iter().map(|p| p.index)
    }

    /// Whether a request claimed a fetch that the root has yet to start.
    pub fn fetch_claimed(&self) -> bool {
        self.providers.iter().any(|p| p.claimed)
    }

    /// The root's tick: installs what other VMs stored, drops keys stale beyond the
    /// bound, and starts any fetch that is due or was claimed. Returns the providers
    /// whose keys changed.
    pub fn tick(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, outbox: &mut Outbox, now: u64) -> Vec<usize> {
        let mut changed = Vec::new();
        for provider in &mut self.providers {
            if provider.sync(gate, &*store, outbox, now) {
                changed.push(provider.index);
            }
            let rules = provider.rules.clone();
            let claimed = std::mem::take(&mut provider.claimed)
                || shared::update(store, &provider.record_key, |record| record.claim_due(&rules, now)) == Some(true);
            if claimed && provider.in_flight.is_none() {
                provider.in_flight = Some(outbox.call(|id| OutboundCall::get(id, &rules.cluster, &rules.authority, &rules.path, rules.timeout_ms)));
            }
        }
        changed
    }

    /// The providers with a fetch under way anywhere (one shared read each).
    pub fn fetching(&self, store: &dyn SharedRecords, now: u64) -> Vec<usize> {
        self.providers.iter().filter(|p| shared::read(store, &p.record_key).is_some_and(|r| r.fetching(now))).map(|p| p.index).collect()
    }

    /// Reports each provider's key age.
    pub fn report_age(&self, store: &dyn SharedRecords, outbox: &mut Outbox, now: u64) {
        for provider in &self.providers {
            if let Some(age) = shared::read(store, &provider.record_key).and_then(|record| record.age_ms(now)) {
                outbox.record(Metric::JwksAgeSeconds(provider.index), age / 1000);
            }
        }
    }

    /// A request was refused because `provider`'s keys lack its `kid`
    /// (`unknown_kid`) or none are usable: claim a fetch if allowed (the root's next
    /// tick starts it), and say whether to pause the request.
    pub fn keys_missing(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, outbox: &mut Outbox, provider: usize, unknown_kid: bool, now: u64) -> KeyWait {
        let Some(remote) = self.providers.iter_mut().find(|p| p.index == provider) else { return KeyWait::AnswerNow };
        if remote.sync(gate, &*store, outbox, now) {
            return KeyWait::DecideAgain;
        }
        let rules = remote.rules.clone();
        let claim = shared::update(store, &remote.record_key, |record| claim_for(record, &rules, unknown_kid, now));
        if claim == Some(UnknownKid::Fetch) {
            remote.claimed = true;
        }
        match claim {
            _ if rules.wait_for_keys_ms == 0 => KeyWait::AnswerNow,
            Some(UnknownKid::Fetch | UnknownKid::Wait) => KeyWait::PauseUntil(now.saturating_add(rules.wait_for_keys_ms)),
            _ => KeyWait::AnswerNow,
        }
    }

    /// Whether call `id` is one of these.
    pub fn owns(&self, id: CallId) -> bool {
        self.providers.iter().any(|p| p.in_flight == Some(id))
    }

    /// Call `id` answered (or failed: [`Answer::none`]). Returns the provider it was
    /// for, whose paused requests may be decided again.
    pub fn answered(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, outbox: &mut Outbox, id: CallId, answer: &Answer, now: u64) -> Option<usize> {
        let provider = self.providers.iter_mut().find(|p| p.in_flight == Some(id))?;
        provider.in_flight = None;
        match fetched_jwks(gate, provider.index, answer) {
            Ok(Fetched { text, max_age, keys }) => {
                let rules = provider.rules.clone();
                let stored = shared::update(store, &provider.record_key, |record| {
                    record.succeeded(&rules, now, text.clone(), max_age);
                    record.generation
                });
                outbox.count(Metric::JwksFetched(provider.index), 1);
                // Parsed once, when checked: if the record still holds this document,
                // its keys are installed as they are, not parsed again from the stored
                // copy (an ES256 key's tables cost a millisecond).
                provider.sync_with(gate, &*store, outbox, now, stored.map(|generation| (generation, keys)));
            }
            Err(error) => provider.failed(gate, store, outbox, &error, now),
        }
        Some(provider.index)
    }

    /// Call `id` could not even be made (`why`: the proxy's status). The claim is
    /// released as a failed fetch, so the backoff applies and no one waits for it.
    pub fn not_started(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, outbox: &mut Outbox, id: CallId, why: &str, now: u64) -> Option<usize> {
        let provider = self.providers.iter_mut().find(|p| p.in_flight == Some(id))?;
        provider.in_flight = None;
        provider.record_failure(gate, store, outbox, now);
        outbox.log(
            Level::Error,
            format!("wsgate: cannot call cluster `{}` for provider `{}`'s keys ({why}): is it defined in Envoy's clusters?", provider.rules.cluster, provider.name),
        );
        Some(provider.index)
    }
}

/// The claim a request refused for want of keys makes on the shared record.
fn claim_for(record: &mut KeyRecord, rules: &RemoteJwks, unknown_kid: bool, now: u64) -> UnknownKid {
    if unknown_kid {
        record.claim_for_unknown_kid(rules, now)
    } else if record.claim_due(rules, now) {
        UnknownKid::Fetch
    } else if record.fetching(now) {
        UnknownKid::Wait
    } else {
        UnknownKid::RateLimited
    }
}

impl RemoteProvider {
    /// Brings this VM's gate in line with the shared record. True if keys changed.
    fn sync(&mut self, gate: &mut Gate, store: &dyn SharedRecords, outbox: &mut Outbox, now: u64) -> bool {
        self.sync_with(gate, store, outbox, now, None)
    }

    /// [`RemoteProvider::sync`], given the keys of the generation this VM just stored
    /// (already parsed), if it stored one.
    fn sync_with(&mut self, gate: &mut Gate, store: &dyn SharedRecords, outbox: &mut Outbox, now: u64, parsed: Option<(u64, KeySet)>) -> bool {
        let Some(record) = shared::read(store, &self.record_key) else { return false };
        let mut changed = false;
        if record.generation != self.installed && record.generation > 0 {
            self.installed = record.generation;
            let keys = match parsed {
                Some((generation, keys)) if generation == record.generation => Ok(keys),
                _ => gate.parse_fetched_keys(self.index, record.jwks.as_bytes()),
            };
            match keys {
                Ok(keys) => {
                    gate.install_keys(self.index, keys);
                    changed = true;
                }
                Err(error) => outbox.log(Level::Error, format!("wsgate: stored keys for provider `{}` do not parse: {error}", self.name)),
            }
        }
        gate.note_next_key_fetch(self.index, if record.fetching(now) { record.fetching_until } else { record.next_fetch_at });
        let usable = record.usable(&self.rules, now);
        if self.usable && !usable {
            gate.drop_keys(self.index);
            outbox.log(Level::Error, format!("wsgate: keys for provider `{}` are stale beyond stale_if_error_seconds; its tokens are refused until a fetch succeeds", self.name));
            changed = true;
        } else if usable && !self.usable && !changed {
            // Usable again without a new generation: reinstall what was dropped.
            changed = gate.install_fetched_keys(self.index, record.jwks.as_bytes()).is_ok();
        }
        self.usable = usable;
        changed
    }

    /// A fetch failed: the last good keys stay, the record backs off. Returns the
    /// record as stored.
    fn record_failure(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, outbox: &mut Outbox, now: u64) -> Option<KeyRecord> {
        let rules = self.rules.clone();
        outbox.count(Metric::JwksFailed(self.index), 1);
        let record = shared::update(store, &self.record_key, |record| {
            record.failed(&rules, now);
            record.clone()
        });
        if let Some(record) = &record {
            gate.note_next_key_fetch(self.index, record.next_fetch_at);
        }
        record
    }

    /// A fetch answered with something unusable: recorded, and said why.
    fn failed(&mut self, gate: &mut Gate, store: &mut dyn SharedRecords, outbox: &mut Outbox, error: &str, now: u64) {
        let record = self.record_failure(gate, store, outbox, now);
        let keeping = if self.usable { "keeping the last good keys" } else { "no usable keys" };
        let retry = record.map_or(0, |r| r.next_fetch_at.saturating_sub(now));
        outbox.log(
            Level::Warn,
            format!("wsgate: fetching keys for provider `{}` from cluster `{}` failed: {error}; {keeping}, retrying in {retry} ms", self.name, self.rules.cluster),
        );
    }
}

/// A fetched document the provider can use.
struct Fetched {
    /// As fetched, for the shared record.
    text: String,
    /// From `Cache-Control`.
    max_age: Option<u64>,
    keys: KeySet,
}

/// The fetched document if the call succeeded with a JWKS the provider can use.
fn fetched_jwks(gate: &Gate, provider: usize, answer: &Answer) -> Result<Fetched, String> {
    let status = answer.header(":status").ok_or("no response (timeout, reset or connection failure)")?;
    if status != "200" {
        return Err(format!("HTTP {status}"));
    }
    if answer.truncated() || answer.body_size > MAX_JWKS_BYTES {
        return Err(format!("the response is {} bytes, more than {MAX_JWKS_BYTES}", answer.body_size));
    }
    // Checked here, before it is shared: a bad document never replaces good keys.
    let keys = gate.parse_fetched_keys(provider, &answer.body)?;
    let text = String::from_utf8(answer.body.clone()).map_err(|_| "the JWKS is not UTF-8".to_owned())?;
    Ok(Fetched { text, max_age: answer.header("cache-control").as_deref().and_then(max_age), keys })
}
