//! When a provider's remote JWKS is fetched, and whether its keys may still be used.
//!
//! Every VM of a filter (one per Envoy worker thread) reads and updates one
//! [`KeyRecord`] per provider, kept in proxy-wasm shared data: whoever claims a fetch
//! in it does the fetching for all, and everyone installs what it stores. The record
//! is plain data and every transition here is a pure function of it and the time, so
//! the schedule, the backoff, the stale bound and the rate limit are unit-tested
//! without a proxy. Times are Unix milliseconds.

use crate::backoff;
use crate::config::RemoteJwksConfig;
use serde::{Deserialize, Serialize};

/// How a key endpoint writes its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// A JWKS (RFC 7517): `remote_jwks`.
    Jwks,
    /// A map from key id to PEM certificate: `remote_x509`.
    X509,
}

/// A provider's remote key endpoint and its refresh rules, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    pub format: KeyFormat,
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout_ms: u64,
    pub min_refresh_ms: u64,
    pub max_refresh_ms: u64,
    pub unknown_kid_refresh_ms: u64,
    pub stale_if_error_ms: u64,
    pub max_retry_ms: u64,
    pub wait_for_keys_ms: u64,
    /// 503 or 401.
    pub unavailable_status: u16,
}

impl RemoteJwks {
    /// Converts a checked configuration (see `settings`).
    pub fn from_config(config: &RemoteJwksConfig, format: KeyFormat) -> Self {
        let ms = |seconds: u64| seconds.saturating_mul(1000);
        Self {
            format,
            cluster: config.cluster.clone(),
            authority: config.authority.clone(),
            path: config.path.clone(),
            timeout_ms: config.timeout_ms,
            min_refresh_ms: ms(config.min_refresh_seconds),
            max_refresh_ms: ms(config.max_refresh_seconds),
            unknown_kid_refresh_ms: ms(config.unknown_kid_refresh_seconds),
            stale_if_error_ms: ms(config.stale_if_error_seconds),
            max_retry_ms: ms(config.max_retry_seconds),
            wait_for_keys_ms: config.wait_for_keys_ms,
            unavailable_status: config.unavailable_status,
        }
    }

    /// A fetch that has not answered by then is given up: its claim lapses, so a
    /// VM that vanished mid-fetch cannot block the others.
    fn claim_until(&self, now: u64) -> u64 {
        backoff::lapses_at(now, self.timeout_ms)
    }
}

/// The shared state of one provider's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Bumped on every successful fetch; 0 until the first. VMs install keys whose
    /// generation they have not installed yet.
    pub generation: u64,
    /// The last good JWKS document, exactly as fetched (it parsed when stored).
    pub jwks: String,
    pub fetched_at: u64,
    /// When the endpoint's `max-age` (bounded) runs out.
    pub fresh_until: u64,
    /// When the next scheduled refresh or retry is due.
    pub next_fetch_at: u64,
    /// Consecutive failed fetches, for the backoff.
    pub failures: u32,
    /// A VM is fetching until then.
    pub fetching_until: u64,
    /// When a token's unknown `kid` last forced a refresh.
    pub forced_at: Option<u64>,
}

/// What a token with an unknown `kid` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownKid {
    /// This VM claimed a refresh: fetch now, and hold the request until it ends.
    Fetch,
    /// Another fetch is under way: hold the request until it ends.
    Wait,
    /// A refresh was forced too recently: refuse the token now.
    RateLimited,
}

impl KeyRecord {
    /// The record as stored in shared data.
    pub fn encode(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(self).ok()
    }

    /// A stored record; `None` if it does not decode (then it is rebuilt by the next
    /// fetch, as if absent).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// Whether verification may use the stored keys at `now`: there are some, and they
    /// are fresh or stale within the bound.
    pub fn usable(&self, remote: &RemoteJwks, now: u64) -> bool {
        self.generation > 0 && now < self.fresh_until.saturating_add(remote.stale_if_error_ms)
    }

    pub fn fetching(&self, now: u64) -> bool {
        now < self.fetching_until
    }

    /// Claims the scheduled refresh (or the retry after a failure) if it is due and
    /// nobody is fetching. True: the caller must fetch.
    pub fn claim_due(&mut self, remote: &RemoteJwks, now: u64) -> bool {
        if self.fetching(now) || now < self.next_fetch_at {
            return false;
        }
        self.fetching_until = remote.claim_until(now);
        true
    }

    /// A token names a `kid` the stored keys lack: Google may have rotated.
    pub fn claim_for_unknown_kid(&mut self, remote: &RemoteJwks, now: u64) -> UnknownKid {
        if self.fetching(now) {
            return UnknownKid::Wait;
        }
        if self.forced_at.is_some_and(|at| now < at.saturating_add(remote.unknown_kid_refresh_ms)) {
            return UnknownKid::RateLimited;
        }
        self.forced_at = Some(now);
        self.fetching_until = remote.claim_until(now);
        UnknownKid::Fetch
    }

    /// Stores a fetched document (already known to parse) and schedules the next
    /// refresh a tenth of its lifetime before it goes stale.
    pub fn succeeded(&mut self, remote: &RemoteJwks, now: u64, jwks: String, max_age_seconds: Option<u64>) {
        let lifetime = max_age_seconds
            .map_or(remote.min_refresh_ms, |s| s.saturating_mul(1000))
            .clamp(remote.min_refresh_ms, remote.max_refresh_ms.max(remote.min_refresh_ms));
        self.generation += 1;
        self.jwks = jwks;
        self.fetched_at = now;
        self.fresh_until = now.saturating_add(lifetime);
        self.next_fetch_at = now.saturating_add(lifetime - lifetime / 10);
        self.failures = 0;
        self.fetching_until = 0;
    }

    /// Keeps the last good keys and schedules a retry with exponential backoff.
    pub fn failed(&mut self, remote: &RemoteJwks, now: u64) {
        let pause = backoff::retry_pause_ms(self.failures, remote.max_retry_ms);
        self.failures = self.failures.saturating_add(1);
        self.next_fetch_at = now.saturating_add(pause);
        self.fetching_until = 0;
    }

    /// Milliseconds since the stored keys were fetched; `None` before the first fetch.
    pub fn age_ms(&self, now: u64) -> Option<u64> {
        (self.generation > 0).then(|| now.saturating_sub(self.fetched_at))
    }
}

/// `max-age` from a `Cache-Control` value (`public, max-age=21600, must-revalidate`).
/// `no-cache`/`no-store` count as 0: refresh as early as the minimum allows.
pub fn max_age(cache_control: &str) -> Option<u64> {
    let mut found = None;
    for directive in cache_control.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.to_ascii_lowercase().as_str() {
            "no-cache" | "no-store" => return Some(0),
            "max-age" => found = value.trim_matches('"').parse().ok(),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> RemoteJwks {
        RemoteJwks {
            format: KeyFormat::Jwks,
            cluster: "google".into(),
            authority: "www.googleapis.com".into(),
            path: "/oauth2/v3/certs".into(),
            timeout_ms: 5000,
            min_refresh_ms: 300_000,
            max_refresh_ms: 86_400_000,
            unknown_kid_refresh_ms: 30_000,
            stale_if_error_ms: 3_600_000,
            max_retry_ms: 60_000,
            wait_for_keys_ms: 3000,
            unavailable_status: 503,
        }
    }

    const T0: u64 = 1_800_000_000_000;

    #[test]
    fn the_first_fetch_is_due_at_once_and_claimed_by_one_vm() {
        let mut record = KeyRecord::default();
        assert!(!record.usable(&remote(), T0));
        assert!(record.claim_due(&remote(), T0));
        assert!(!record.claim_due(&remote(), T0 + 10), "a second VM must not fetch while the first does");
        // A claim whose fetcher vanished lapses after the timeout.
        assert!(record.claim_due(&remote(), T0 + 6001));
    }

    #[test]
    fn max_age_schedules_the_refresh_within_the_bounds() {
        let mut record = KeyRecord::default();
        record.succeeded(&remote(), T0, "{}".into(), Some(21_600));
        assert_eq!(record.generation, 1);
        assert_eq!(record.fresh_until, T0 + 21_600_000);
        assert_eq!(record.next_fetch_at, T0 + 19_440_000, "a tenth of the lifetime early");
        assert!(!record.claim_due(&remote(), T0 + 19_439_999));
        assert!(record.claim_due(&remote(), T0 + 19_440_000));

        record.succeeded(&remote(), T0, "{}".into(), Some(5));
        assert_eq!(record.fresh_until, T0 + 300_000, "raised to the minimum");
        record.succeeded(&remote(), T0, "{}".into(), Some(10_000_000));
        assert_eq!(record.fresh_until, T0 + 86_400_000, "cut to the maximum");
        record.succeeded(&remote(), T0, "{}".into(), None);
        assert_eq!(record.fresh_until, T0 + 300_000, "no max-age: the minimum");
        assert_eq!(record.generation, 4);
    }

    #[test]
    fn failures_keep_the_keys_within_the_stale_bound_and_back_off() {
        let mut record = KeyRecord::default();
        record.succeeded(&remote(), T0, "{}".into(), Some(600));
        let stale = T0 + 600_000;
        let mut retries = Vec::new();
        let mut now = stale;
        for _ in 0..9 {
            assert!(record.claim_due(&remote(), now));
            record.failed(&remote(), now);
            retries.push(record.next_fetch_at - now);
            now = record.next_fetch_at;
        }
        assert_eq!(retries, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
        assert!(record.usable(&remote(), stale + 3_599_999), "stale keys within the bound are used");
        assert!(!record.usable(&remote(), stale + 3_600_000), "and not a moment longer");
        record.succeeded(&remote(), now, "{}".into(), Some(600));
        assert_eq!(record.failures, 0);
        assert!(record.usable(&remote(), stale + 3_600_000));
    }

    #[test]
    fn an_unknown_kid_forces_at_most_one_refresh_per_interval() {
        let mut record = KeyRecord::default();
        record.succeeded(&remote(), T0, "{}".into(), Some(21_600));
        assert_eq!(record.claim_for_unknown_kid(&remote(), T0 + 1), UnknownKid::Fetch);
        assert_eq!(record.claim_for_unknown_kid(&remote(), T0 + 2), UnknownKid::Wait, "the fetch is under way");
        record.succeeded(&remote(), T0 + 100, "{}".into(), Some(21_600));
        assert_eq!(record.claim_for_unknown_kid(&remote(), T0 + 200), UnknownKid::RateLimited);
        assert_eq!(record.claim_for_unknown_kid(&remote(), T0 + 30_000), UnknownKid::RateLimited);
        assert_eq!(record.claim_for_unknown_kid(&remote(), T0 + 30_001), UnknownKid::Fetch);
    }

    #[test]
    fn cache_control_max_age_is_read_like_a_cache_would() {
        assert_eq!(max_age("public, max-age=21600, must-revalidate, no-transform"), Some(21_600));
        assert_eq!(max_age("Max-Age=\"60\""), Some(60));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn the_record_survives_its_trip_through_shared_data() {
        let mut record = KeyRecord::default();
        record.succeeded(&remote(), T0, r#"{"keys":[]}"#.into(), Some(60));
        record.forced_at = Some(T0);
        assert_eq!(KeyRecord::decode(&record.encode().unwrap()), Some(record));
        assert_eq!(KeyRecord::decode(b"{not json"), None);
    }
}
