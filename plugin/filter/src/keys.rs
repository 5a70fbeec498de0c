//! Remote JWKS for this VM: fetches through Envoy's HTTP client when the shared
//! [`KeyRecord`] says so, stores what it fetched for every other VM, and installs
//! whatever any VM stored. The schedule itself is `wsgate_core::key_refresh`.

use crate::host;
use crate::metrics;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MetricType};
use std::time::Duration;
use wsgate_core::{Gate, RequestHeaders};
use wsgate_core::key_refresh::{KeyRecord, RemoteJwks, UnknownKid, max_age};

/// A JWKS larger than this is not a JWKS.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Read, change, compare-and-swap: how many times to try when other VMs write too.
const CAS_ATTEMPTS: usize = 8;

/// One remote provider, as this VM sees it.
struct RemoteProvider {
    index: usize,
    name: String,
    remote: RemoteJwks,
    /// The shared-data key: one record per endpoint, whatever the provider is called.
    shared_key: String,
    /// The record's generation this VM's gate has installed.
    installed: u64,
    /// Whether this VM's gate holds usable keys.
    usable: bool,
    /// The token of the call this VM has in flight for it.
    in_flight: Option<u32>,
    /// A request context claimed a fetch; the root context makes the call, so that
    /// its answer comes back to the root even if that request is gone by then.
    dispatch_wanted: bool,
    fetched: Option<u32>,
    failed: Option<u32>,
    age_seconds: Option<u32>,
}

/// What to do with a request refused for want of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Another VM stored new keys meanwhile: decide again now.
    DecideAgain,
    /// A fetch is under way: hold the request until it ends, at most this long (ms).
    Wait(u64),
    /// Nothing will change soon: answer now.
    Answer,
}

#[derive(Default)]
pub struct RemoteKeys {
    providers: Vec<RemoteProvider>,
}

impl RemoteKeys {
    pub fn new(gate: &Gate) -> Self {
        let metric = |kind, name: String| metrics::define(kind, &name);
        let providers = gate
            .remote_providers()
            .map(|(index, remote)| {
                let name = gate.settings().verifier.provider(index).map_or_else(String::new, |p| p.name.clone());
                RemoteProvider {
                    index,
                    shared_key: format!("wsgate.jwks.{}.{}{}", remote.cluster, remote.authority, remote.path),
                    remote: remote.clone(),
                    installed: 0,
                    usable: false,
                    in_flight: None,
                    dispatch_wanted: false,
                    fetched: metric(MetricType::Counter, format!("wsgate.jwks.{name}.fetched")),
                    failed: metric(MetricType::Counter, format!("wsgate.jwks.{name}.failed")),
                    age_seconds: metric(MetricType::Gauge, format!("wsgate.jwks.{name}.age_seconds")),
                    name,
                }
            })
            .collect();
        Self { providers }
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Installs what other VMs stored, drops keys stale beyond the bound, and starts
    /// any fetch that is due or was claimed by a request. Root context only. Returns
    /// the providers whose keys changed.
    pub fn refresh(&mut self, gate: &mut Gate, now_ms: u64) -> Vec<usize> {
        let mut changed = Vec::new();
        for provider in &mut self.providers {
            if provider.sync(gate, now_ms) {
                changed.push(provider.index);
            }
            let claimed = std::mem::take(&mut provider.dispatch_wanted)
                || provider.update(|record| record.claim_due(&provider.remote, now_ms)) == Some(true);
            if claimed {
                provider.dispatch(now_ms);
            }
        }
        changed
    }

    /// Whether a request claimed a fetch that the root has yet to start.
    pub fn dispatch_wanted(&self) -> bool {
        self.providers.iter().any(|p| p.dispatch_wanted)
    }

    /// The providers with a fetch under way anywhere: one shared-data read each.
    pub fn fetching_providers(&self, now_ms: u64) -> Vec<usize> {
        self.providers.iter().filter(|p| p.read().is_some_and(|record| record.fetching(now_ms))).map(|p| p.index).collect()
    }

    /// A request was refused because `provider`'s keys lack its `kid` (`unknown_kid`)
    /// or none are usable: claim a fetch if allowed (the root's next tick starts it),
    /// and say whether to hold the request.
    pub fn hold(&mut self, gate: &mut Gate, provider: usize, unknown_kid: bool, now_ms: u64) -> Hold {
        let Some(remote) = self.providers.iter_mut().find(|p| p.index == provider) else { return Hold::Answer };
        if remote.sync(gate, now_ms) {
            return Hold::DecideAgain;
        }
        let rules = remote.remote.clone();
        let claim = remote.update(|record| {
            if unknown_kid {
                record.claim_for_unknown_kid(&rules, now_ms)
            } else if record.claim_due(&rules, now_ms) {
                UnknownKid::Fetch
            } else if record.fetching(now_ms) {
                UnknownKid::Wait
            } else {
                UnknownKid::RateLimited
            }
        });
        let wait = Hold::Wait(now_ms.saturating_add(rules.wait_for_keys_ms));
        if claim == Some(UnknownKid::Fetch) {
            remote.dispatch_wanted = true;
        }
        match claim {
            _ if rules.wait_for_keys_ms == 0 => Hold::Answer,
            Some(UnknownKid::Fetch | UnknownKid::Wait) => wait,
            _ => Hold::Answer,
        }
    }

    /// An HTTP call answered (or failed: no headers). Returns the provider it was for.
    pub fn on_response(&mut self, gate: &mut Gate, token: u32, body_size: usize, now_ms: u64) -> Option<usize> {
        let provider = self.providers.iter_mut().find(|p| p.in_flight == Some(token))?;
        provider.in_flight = None;
        match fetched_jwks(gate, provider.index, body_size) {
            Ok((body, max_age)) => {
                let rules = provider.remote.clone();
                provider.update(|record| record.succeeded(&rules, now_ms, body.clone(), max_age));
                metrics::add(provider.fetched, 1);
                provider.sync(gate, now_ms);
            }
            Err(error) => {
                let rules = provider.remote.clone();
                let record = provider.update(|record| {
                    record.failed(&rules, now_ms);
                    record.clone()
                });
                metrics::add(provider.failed, 1);
                let keeping = if provider.usable { "keeping the last good keys" } else { "no usable keys" };
                let retry = record.map_or(0, |r| r.next_fetch_at.saturating_sub(now_ms));
                host::log(LogLevel::Warn, &format!("wsgate: fetching keys for provider `{}` from cluster `{}` failed: {error}; {keeping}, retrying in {retry} ms", provider.name, provider.remote.cluster));
            }
        }
        Some(provider.index)
    }

    /// Reports each provider's key age to the gauge.
    pub fn report_age(&self, now_ms: u64) {
        for provider in &self.providers {
            let age = provider.read().and_then(|record| record.age_ms(now_ms));
            if let Some(age) = age {
                metrics::record(provider.age_seconds, age / 1000);
            }
        }
    }
}

impl RemoteProvider {
    fn read(&self) -> Option<KeyRecord> {
        let (bytes, _) = host::shared_get(&self.shared_key)?;
        KeyRecord::decode(&bytes)
    }

    /// Changes the shared record with `change`, retrying if another VM wrote in
    /// between. `None` if the host kept refusing: then nothing was claimed.
    fn update<R>(&self, mut change: impl FnMut(&mut KeyRecord) -> R) -> Option<R> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut record, cas) = match host::shared_get(&self.shared_key) {
                Some((bytes, cas)) => (KeyRecord::decode(&bytes).unwrap_or_default(), cas),
                None => (KeyRecord::default(), 0),
            };
            let result = change(&mut record);
            let bytes = record.encode()?;
            if host::shared_set(&self.shared_key, &bytes, cas) {
                return Some(result);
            }
        }
        None
    }

    /// Brings this VM's gate in line with the shared record. True if keys changed.
    fn sync(&mut self, gate: &mut Gate, now_ms: u64) -> bool {
        let Some(record) = self.read() else { return false };
        let mut changed = false;
        if record.generation != self.installed && record.generation > 0 {
            self.installed = record.generation;
            match gate.install_jwks(self.index, record.jwks.as_bytes()) {
                Ok(_) => changed = true,
                Err(error) => host::log(LogLevel::Error, &format!("wsgate: stored keys for provider `{}` do not parse: {error}", self.name)),
            }
        }
        let usable = record.usable(&self.remote, now_ms);
        if self.usable && !usable {
            gate.drop_keys(self.index);
            host::log(LogLevel::Error, &format!("wsgate: keys for provider `{}` are stale beyond stale_if_error_seconds; its tokens are refused until a fetch succeeds", self.name));
            changed = true;
        } else if usable && !self.usable && !changed {
            // Usable again without a new generation: reinstall what was dropped.
            changed = gate.install_jwks(self.index, record.jwks.as_bytes()).is_ok();
        }
        self.usable = usable;
        changed
    }

    /// Starts the fetch this VM claimed. On failure the claim is released as a
    /// failed fetch, so the backoff applies and no one waits for it.
    fn dispatch(&mut self, now_ms: u64) -> bool {
        let headers = vec![
            (":method", "GET"),
            (":path", self.remote.path.as_str()),
            (":authority", self.remote.authority.as_str()),
            ("accept", "application/json"),
            ("user-agent", "wsgate"),
        ];
        let timeout = Duration::from_millis(self.remote.timeout_ms);
        match hostcalls::dispatch_http_call(&self.remote.cluster, headers, None, vec![], timeout) {
            Ok(token) => {
                self.in_flight = Some(token);
                true
            }
            Err(status) => {
                let rules = self.remote.clone();
                self.update(|record| record.failed(&rules, now_ms));
                metrics::add(self.failed, 1);
                host::log(LogLevel::Error, &format!("wsgate: cannot call cluster `{}` for provider `{}`'s keys ({status:?}): is it defined in Envoy's clusters?", self.remote.cluster, self.name));
                false
            }
        }
    }
}

/// The fetched document if the call succeeded with a JWKS the provider can use,
/// with its `max-age`.
fn fetched_jwks(gate: &Gate, provider: usize, body_size: usize) -> Result<(String, Option<u64>), String> {
    let headers = host::call_response_headers();
    let header = |name: &str| headers.header(name).map(|v| String::from_utf8_lossy(v).into_owned());
    let status = header(":status").ok_or("no response (timeout, reset or connection failure)")?;
    if status != "200" {
        return Err(format!("HTTP {status}"));
    }
    if body_size > MAX_JWKS_BYTES {
        return Err(format!("the response is {body_size} bytes, more than {MAX_JWKS_BYTES}"));
    }
    let body = host::call_response_body(body_size);
    // Checked here, before it is shared: a bad document never replaces good keys.
    let algorithms = gate.settings().verifier.provider(provider).map(|p| p.algorithms.clone()).unwrap_or_default();
    wsgate_core::jwks::parse_fetched_jwks(&body, &algorithms)?;
    let text = String::from_utf8(body).map_err(|_| "the JWKS is not UTF-8".to_owned())?;
    Ok((text, header("cache-control").as_deref().and_then(max_age)))
}

