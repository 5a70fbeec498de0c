//! One sign-in in flight: its `state`, `nonce` and PKCE verifier and where the
//! browser goes afterwards, sealed into a cookie of its own whose name carries the
//! `state`. Each tab's sign-in has its own cookie, so several can run at once, and a
//! callback whose `state` names no cookie this browser holds is refused (RFC 6749
//! §10.12: the `state` is bound to the browser that started the sign-in).

use super::pkce;
use super::setup::{CookieNames, SignIn};
use super::CLOCK_SKEW_SECONDS;
use crate::extract::single_cookie;
use crate::request::RequestHeaders;
use serde::{Deserialize, Serialize};

/// A sign-in must come back within this long (Google's own page stays open longer;
/// a stale one starts again).
pub const FLOW_SECONDS: u64 = 600;
/// At most this many sign-ins run at once in one browser (tabs); starting another
/// drops the oldest, so abandoned ones never add up to more cookie than a proxy accepts.
pub const MAX_FLOWS: usize = 4;
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

    /// The name and value of this flow's cookie, or `None` if it cannot be sealed.
    pub fn cookie(&self, sign_in: &SignIn, seal_nonce: [u8; 12]) -> Option<(String, String)> {
        let name = cookie_name(&sign_in.cookies, &self.state)?;
        let plain = serde_json::to_vec(self).ok()?;
        Some((name.clone(), sign_in.keys.seal(&sign_in.seal_context(&name), &plain, seal_nonce)?))
    }

    /// The flow `state` names, if this browser holds its cookie, sealed by this gate,
    /// and it is neither stale nor from the future (`now` in Unix seconds).
    pub fn find(request: &impl RequestHeaders, state: &str, sign_in: &SignIn, now: u64) -> Option<Flow> {
        let name = cookie_name(&sign_in.cookies, state)?;
        let flow = open(request, &name, sign_in)?;
        let fresh = flow.started_at <= now.saturating_add(CLOCK_SKEW_SECONDS) && now.saturating_sub(flow.started_at) < FLOW_SECONDS;
        (fresh && flow.state == state).then_some(flow)
    }
}

/// The flow cookie `name` holds, if this gate sealed it.
fn open(request: &impl RequestHeaders, name: &str, sign_in: &SignIn) -> Option<Flow> {
    let sealed = single_cookie(request, name).ok()??;
    serde_json::from_slice(&sign_in.keys.open(&sign_in.seal_context(name), &sealed)?).ok()
}

/// The flow cookies to drop before a new sign-in starts, so that with it at most
/// [`MAX_FLOWS`] remain: the oldest, and any that do not open.
pub fn to_drop(request: &impl RequestHeaders, sign_in: &SignIn) -> Vec<String> {
    let mut held: Vec<(u64, String)> = request
        .header_values("cookie")
        .iter()
        .flat_map(|header| header.split(|&b| b == b';'))
        .filter_map(|pair| std::str::from_utf8(pair.split(|&b| b == b'=').next()?.trim_ascii()).ok())
        .filter(|name| name.starts_with(&sign_in.cookies.flow))
        .map(|name| (open(request, name, sign_in).map_or(0, |flow| flow.started_at), name.to_owned()))
        .collect();
    held.sort();
    held.dedup();
    let excess = held.len().saturating_sub(MAX_FLOWS - 1);
    held.into_iter().take(excess).map(|(_, name)| name).collect()
}

/// The cookie of the flow `state` names; `None` for a `state` that is not one of
/// ours (22 base64url characters), so a callback cannot name arbitrary cookies.
pub fn cookie_name(names: &CookieNames, state: &str) -> Option<String> {
    let ours = state.len() == 22 && state.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ours.then(|| format!("{}{state}", names.flow))
}
