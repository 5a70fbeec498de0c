//! The OAuth access token group lookups carry, from the metadata server (keyless on
//! Cloud Run and GKE): fetched when first needed, refreshed shortly before it
//! expires, dropped when an API refuses it, and fetched again with the one backoff
//! rule after a failure.

use super::call::{CallId, OutboundCall};
use super::effects::Outbox;
use crate::backoff;
use crate::group_lookup::GroupLookup;

/// A token is refreshed this long before it expires (or at half its life if shorter).
const REFRESH_MARGIN_MS: u64 = 300_000;

#[derive(Debug)]
struct Token {
    value: String,
    refresh_at: u64,
    expires_at: u64,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    call: CallId,
    started: u64,
    context_id: u32,
}

/// The token, its refresh schedule and its fetch.
#[derive(Debug, Default)]
pub struct AccessToken {
    token: Option<Token>,
    /// After a failed fetch, the next waits until then.
    retry_at: u64,
    failures: u32,
    /// The fetch in flight: its call, when it started, and the context that made it
    /// (its answer goes there, and dies with it).
    in_flight: Option<InFlight>,
}

impl AccessToken {
    /// `Authorization` for an API call at `now`; `None` without a live token.
    pub fn bearer(&self, now: u64) -> Option<String> {
        self.token.as_ref().filter(|t| now < t.expires_at).map(|t| format!("Bearer {}", t.value))
    }

    pub fn fetching(&self) -> bool {
        self.in_flight.is_some()
    }

    pub fn owns(&self, id: CallId) -> bool {
        self.in_flight.is_some_and(|fetch| fetch.call == id)
    }

    /// Starts a fetch from `context_id` if one is due (`wanted`: lookups wait for a
    /// token, or it is time to refresh) and none is under way or backing off.
    pub fn fetch_if_due(&mut self, rules: &GroupLookup, outbox: &mut Outbox, wanted: bool, now: u64, context_id: u32) {
        let due = self.token.as_ref().map_or(wanted, |t| now >= t.refresh_at);
        if !due || now < self.retry_at || self.fetching() {
            return;
        }
        let id = outbox.call(|id| {
            OutboundCall::get(id, &rules.token_cluster, &rules.token_authority, &rules.token_path, rules.timeout_ms)
                // The metadata server answers only requests that carry this.
                .with_header("metadata-flavor", "Google".to_owned())
        });
        self.in_flight = Some(InFlight { call: id, started: now, context_id });
    }

    /// A fetch answered with a token living `expires_in` seconds.
    pub fn received(&mut self, value: String, expires_in: u64, now: u64) {
        self.in_flight = None;
        self.failures = 0;
        let lifetime = expires_in.saturating_mul(1000);
        let margin = REFRESH_MARGIN_MS.min(lifetime / 2);
        let expires_at = now.saturating_add(lifetime);
        self.token = Some(Token { value, refresh_at: expires_at.saturating_sub(margin), expires_at });
    }

    /// A fetch failed or could not be made: the next waits 1, 2, 4 … s, up to
    /// `max_retry_ms`, so a refresh due while the old token still works is not
    /// retried on every tick.
    pub fn failed(&mut self, max_retry_ms: u64, now: u64) {
        self.in_flight = None;
        self.retry_at = now.saturating_add(backoff::retry_pause_ms(self.failures, max_retry_ms));
        self.failures = self.failures.saturating_add(1);
    }

    /// An API refused the token: get a new one.
    pub fn refused(&mut self) {
        self.token = None;
    }

    /// A fetch whose answer never came (its context went away) is forgotten, so
    /// that it can be made again.
    pub fn forget_lapsed(&mut self, timeout_ms: u64, now: u64) {
        if self.in_flight.is_some_and(|fetch| now >= backoff::lapses_at(fetch.started, timeout_ms)) {
            self.in_flight = None;
        }
    }

    /// Context `context_id` ended: Envoy cancelled the fetch it made, if any.
    pub fn context_done(&mut self, context_id: u32) {
        if self.in_flight.is_some_and(|fetch| fetch.context_id == context_id) {
            self.in_flight = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group_lookup::test_config;
    use crate::outbound::effects::Effect;

    fn rules() -> GroupLookup {
        GroupLookup::from_config(&test_config(8, 10))
    }

    const T: u64 = 1_800_000_000_000;

    fn calls(outbox: &mut Outbox) -> Vec<CallId> {
        std::iter::from_fn(|| outbox.take()).filter_map(|e| if let Effect::Call(c) = e { Some(c.id) } else { None }).collect()
    }

    #[test]
    fn the_token_is_fetched_from_the_metadata_server_once_when_wanted() {
        let (mut token, mut outbox) = (AccessToken::default(), Outbox::default());
        token.fetch_if_due(&rules(), &mut outbox, false, T, 1);
        assert!(outbox.take().is_none(), "nobody wants it yet");
        token.fetch_if_due(&rules(), &mut outbox, true, T, 1);
        let Some(Effect::Call(call)) = outbox.take() else { panic!("no call") };
        assert_eq!(call.header("metadata-flavor"), Some("Google"));
        assert_eq!(call.header(":path"), Some("/computeMetadata/v1/instance/service-accounts/default/token"));
        token.fetch_if_due(&rules(), &mut outbox, true, T + 10, 1);
        assert!(outbox.take().is_none(), "one fetch at a time");
    }

    #[test]
    fn a_token_is_refreshed_five_minutes_before_it_expires_or_at_half_its_life() {
        let (mut token, mut outbox) = (AccessToken::default(), Outbox::default());
        token.received("ya29.a".into(), 3600, T);
        assert_eq!(token.bearer(T).as_deref(), Some("Bearer ya29.a"));
        token.fetch_if_due(&rules(), &mut outbox, true, T + 3_299_999, 1);
        assert!(calls(&mut outbox).is_empty());
        token.fetch_if_due(&rules(), &mut outbox, true, T + 3_300_000, 1);
        assert_eq!(calls(&mut outbox).len(), 1, "five minutes early");
        assert!(token.bearer(T + 3_599_999).is_some() && token.bearer(T + 3_600_000).is_none());

        let mut short = AccessToken::default();
        short.received("ya29.b".into(), 120, T);
        short.fetch_if_due(&rules(), &mut outbox, false, T + 60_000, 1);
        assert_eq!(calls(&mut outbox).len(), 1, "a two-minute token at one minute");
    }

    #[test]
    fn failed_fetches_back_off_with_the_one_rule() {
        let (mut token, mut outbox) = (AccessToken::default(), Outbox::default());
        let mut pauses = Vec::new();
        let mut now = T;
        for _ in 0..6 {
            token.fetch_if_due(&rules(), &mut outbox, true, now, 1);
            assert_eq!(calls(&mut outbox).len(), 1);
            token.failed(rules().max_retry_ms, now);
            token.fetch_if_due(&rules(), &mut outbox, true, token.retry_at - 1, 1);
            assert!(calls(&mut outbox).is_empty(), "not before the pause ends");
            pauses.push(token.retry_at - now);
            now = token.retry_at;
        }
        assert_eq!(pauses, [1000, 2000, 4000, 8000, 8000, 8000]);
        token.received("ya29.c".into(), 3600, now);
        assert_eq!(token.failures, 0);
    }

    #[test]
    fn a_refused_token_is_dropped_and_a_lost_fetch_lapses() {
        let (mut token, mut outbox) = (AccessToken::default(), Outbox::default());
        token.received("ya29.a".into(), 3600, T);
        token.refused();
        assert_eq!(token.bearer(T), None);
        token.fetch_if_due(&rules(), &mut outbox, true, T, 1);
        assert!(token.fetching());
        token.forget_lapsed(2000, T + 2999);
        assert!(token.fetching());
        token.forget_lapsed(2000, T + 3000);
        assert!(!token.fetching(), "timeout + 1 s");

        token.fetch_if_due(&rules(), &mut outbox, true, T + 5000, 7);
        token.context_done(8);
        assert!(token.fetching(), "another context's end cancels nothing");
        token.context_done(7);
        assert!(!token.fetching(), "the fetch died with the context that made it");
    }
}
