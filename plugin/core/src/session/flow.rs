//! One sign-in in flight: its `state`, `nonce` and PKCE verifier and where the
//! browser goes afterwards, sealed into a cookie of its own whose name carries the
//! `state`. Each tab's sign-in has its own cookie, so several can run at once, and a
//! callback whose `state` names no cookie this browser holds is refused (RFC 6749
//! §10.12: the `state` is bound to the browser that started the sign-in).

use super::pkce;
use super::seal::SessionKeys;
use super::setup::CookieNames;
use crate::extract::single_cookie;
use crate::request::RequestHeaders;
use serde::{Deserialize, Serialize};

/// A sign-in must come back within this long (Google's own page stays open longer;
/// a stale one starts again).
pub const FLOW_SECONDS: u64 = 600;
/// The random bytes a sign-in draws: `state`, `nonce`, the code verifier, and the
/// seal's nonce.
pub const FLOW_RANDOM_BYTES: usize = 16 + 16 + 32 + 12;

/// A sign-in started and not yet finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// A same-origin path (see [`super::signin::return_path`]).
    pub return_to: String,
    /// Unix seconds.
    pub started_at: u64,
}

impl Flow {
    /// A new sign-in from `random` (the caller's entropy), coming back to `return_to`.
    /// Returns it with the seal nonce the rest of `random` gives.
    pub fn begin(random: &[u8; FLOW_RANDOM_BYTES], return_to: String, now: u64) -> (Flow, [u8; 12]) {
        let take = |from: usize, to: usize| &random[from..to];
        let state = pkce::token(take(0, 16).try_into().unwrap_or(&[0; 16]));
        let nonce = pkce::token(take(16, 32).try_into().unwrap_or(&[0; 16]));
        let verifier = pkce::verifier(take(32, 64).try_into().unwrap_or(&[0; 32]));
        let seal_nonce = take(64, 76).try_into().unwrap_or([0; 12]);
        (Flow { state, nonce, verifier, return_to, started_at: now }, seal_nonce)
    }

    /// The `Set-Cookie` value of this flow's cookie, or `None` if it cannot be sealed.
    pub fn cookie(&self, keys: &SessionKeys, names: &CookieNames, seal_nonce: [u8; 12]) -> Option<(String, String)> {
        let name = cookie_name(names, &self.state)?;
        let plain = serde_json::to_vec(self).ok()?;
        Some((name.clone(), keys.seal(&name, &plain, seal_nonce)?))
    }

    /// The flow `state` names, if this browser holds its cookie, sealed by this gate,
    /// and it is neither stale nor from the future (`now` in Unix seconds).
    pub fn find(request: &impl RequestHeaders, state: &str, keys: &SessionKeys, names: &CookieNames, now: u64) -> Option<Flow> {
        let name = cookie_name(names, state)?;
        let sealed = single_cookie(request, &name).ok()??;
        let flow: Flow = serde_json::from_slice(&keys.open(&name, &sealed)?).ok()?;
        let fresh = flow.started_at <= now && now - flow.started_at < FLOW_SECONDS;
        (fresh && flow.state == state).then_some(flow)
    }
}

/// The cookie of the flow `state` names; `None` for a `state` that is not one of
/// ours (22 base64url characters), so a callback cannot name arbitrary cookies.
pub fn cookie_name(names: &CookieNames, state: &str) -> Option<String> {
    let ours = state.len() == 22 && state.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ours.then(|| format!("{}{state}", names.flow))
}
