//! Signed-in browsers (issue 15, the building blocks; not wired into the filter yet):
//! a person's session sealed into cookies only this gate can read, split below the
//! browser's per-cookie limit; the PKCE values of a sign-in; which requests may be
//! sent to sign in and where a browser may come back to. Pure and I/O-free: the
//! caller supplies the time and the randomness.

pub mod chunks;
pub mod pkce;
pub mod seal;
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

impl Session {
    /// Whether the session may still be used at `now` (Unix seconds). A session from
    /// the future (a clock that jumped, a forged time) is not.
    pub fn valid_at(&self, now: u64, lifetimes: Lifetimes) -> bool {
        let not_ahead = self.signed_in_at <= now && self.seen_at <= now && self.signed_in_at <= self.seen_at;
        not_ahead
            && now - self.signed_in_at < lifetimes.absolute_seconds
            && now - self.seen_at < lifetimes.idle_seconds
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
        assert!(!session(1000, 900).valid_at(1000, LIFETIMES), "seen before it began");
    }
}
