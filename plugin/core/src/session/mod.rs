//! Signed-in browsers: a person's session sealed into cookies only this gate can
//! read, split below the browser's per-cookie limit; each sign-in's own sealed
//! cookie with its PKCE verifier, `state` and `nonce`; which requests may be sent to
//! sign in and where a browser may come back to; the code exchange's request and
//! answer; the pages a person sees. Pure and I/O-free: the caller supplies the time
//! and the randomness.

pub mod chunks;
pub mod cookies;
pub mod exchange;
pub mod flow;
pub mod form;
pub mod page;
pub mod pkce;
pub mod seal;
pub mod setup;
pub mod signin;

use serde::{Deserialize, Serialize};

/// Who a signed-in browser is, as its session cookie holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The verified ID token's `sub`, `email` and `hd`.
    pub subject: String,
    pub email: Option<String>,
    pub domain: Option<String>,
    /// When the person signed in, and when the session was last used (Unix seconds).
    pub signed_in_at: u64,
    pub seen_at: u64,
}

/// How long a session lives: from sign-in whatever happens, and since last use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub absolute_seconds: u64,
    pub idle_seconds: u64,
}

/// How far another proxy instance's clock may be ahead of this one's when it sealed a
/// session or started a sign-in.
pub const CLOCK_SKEW_SECONDS: u64 = 60;

/// Where the gate's random bytes come from (state, nonce, PKCE verifier, seal
/// nonces): the proxy's CSPRNG (WASI `random_get`) in the filter. False: none could
/// be drawn, and nothing that needs them is done.
pub struct RandomSource(Box<Fill>);

/// Fills the buffer with random bytes; false if it could not.
type Fill = dyn FnMut(&mut [u8]) -> bool;

impl RandomSource {
    pub fn new(fill: impl FnMut(&mut [u8]) -> bool + 'static) -> Self {
        Self(Box::new(fill))
    }

    /// `N` random bytes, or `None` if the source failed.
    pub fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut bytes = [0; N];
        (self.0)(&mut bytes).then_some(bytes)
    }
}

impl std::fmt::Debug for RandomSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RandomSource")
    }
}

impl Session {
    /// When the session stops being valid if not used again (Unix seconds).
    pub fn expires_at(&self, lifetimes: Lifetimes) -> u64 {
        (self.signed_in_at.saturating_add(lifetimes.absolute_seconds)).min(self.seen_at.saturating_add(lifetimes.idle_seconds))
    }

    /// Whether the cookie should be sealed again with `seen_at` moved to `now`, so an
    /// active person's session does not idle out: once a quarter of the idle timeout
    /// has passed (a new cookie every request would cost a seal each).
    pub fn due_for_refresh(&self, now: u64, lifetimes: Lifetimes) -> bool {
        now.saturating_sub(self.seen_at) >= (lifetimes.idle_seconds / 4).max(1)
    }

    /// Whether the session may still be used at `now` (Unix seconds). A session from
    /// the future beyond [`CLOCK_SKEW_SECONDS`] (a clock that jumped) is not; within
    /// it, another instance's clock may simply be ahead of this one's.
    pub fn valid_at(&self, now: u64, lifetimes: Lifetimes) -> bool {
        let later = now.saturating_add(CLOCK_SKEW_SECONDS);
        let not_ahead = self.signed_in_at <= later && self.seen_at <= later && self.signed_in_at <= self.seen_at;
        not_ahead
            && now.saturating_sub(self.signed_in_at) < lifetimes.absolute_seconds
            && now.saturating_sub(self.seen_at) < lifetimes.idle_seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIMES: Lifetimes = Lifetimes { absolute_seconds: 8 * 3600, idle_seconds: 3600 };

    fn session(signed_in_at: u64, seen_at: u64) -> Session {
        Session { subject: "1".into(), email: Some("alice@example.com".into()), domain: Some("example.com".into()), signed_in_at, seen_at }
    }

    #[test]
    fn a_session_ends_at_its_absolute_lifetime_or_after_idling() {
        assert!(session(1000, 1000).valid_at(1000 + 3599, LIFETIMES));
        assert!(!session(1000, 1000).valid_at(1000 + 3600, LIFETIMES), "idle an hour");
        assert!(session(1000, 1000 + 8 * 3600 - 10).valid_at(1000 + 8 * 3600 - 1, LIFETIMES));
        assert!(!session(1000, 1000 + 8 * 3600 - 10).valid_at(1000 + 8 * 3600, LIFETIMES), "eight hours after sign-in, however active");
    }

    #[test]
    fn a_session_from_the_future_is_not_valid() {
        assert!(!session(2000, 2000).valid_at(1000, LIFETIMES));
        assert!(session(1030, 1030).valid_at(1000, LIFETIMES), "another instance's clock 30 s ahead");
        assert!(!session(1000, 900).valid_at(1000, LIFETIMES), "seen before it began");
    }
}
