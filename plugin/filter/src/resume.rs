//! Held requests decided again, each on its own context, once what they waited for
//! arrived or their wait ran out; then resumed, answered, or held again until their
//! original deadline (a request waiting for two lookups may see one answer first).
//!
//! Lookups these decisions ask for are made only once the callback's own context is
//! effective again: Envoy binds a call to the effective context and the SDK routes
//! its answer to the callback's, and the two must be the same context.

use crate::held::{Held, Waiting};
use crate::host;
use crate::http::{self, Decision};
use crate::root::Shared;
use proxy_wasm::types::Action as ProxyAction;

/// Decides the held requests that `ready` picks, makes `back_to` (the context
/// running this callback) effective again, and starts the lookups they asked for.
pub fn release(shared: &Shared, now_ms: u64, back_to: u32, ready: impl FnMut(&Held) -> bool) {
    let released = match shared.held.try_borrow_mut() {
        Ok(mut held) => held.release(ready),
        Err(_) => return,
    };
    if released.is_empty() {
        return;
    }
    for held in released {
        // A client that went away has no context left to act on.
        if host::act_for(held.context_id) {
            decide_held(shared, held, now_ms);
        }
    }
    host::act_for(back_to);
    // A lookup that could not even be started has failed (and lookups back off): the
    // requests held for it are decided again, once, with what there is.
    if http::start_group_lookups(shared, now_ms, back_to) {
        release_failed(shared, now_ms, back_to);
    }
}

/// Decides every request held for lookups without waiting any longer (stale
/// answers, or the failure mode). Lookups these decisions start wait for the next
/// tick.
fn release_failed(shared: &Shared, now_ms: u64, back_to: u32) {
    let released = match shared.held.try_borrow_mut() {
        Ok(mut held) => held.release(|held| held.waiting == Waiting::Groups),
        Err(_) => return,
    };
    for held in released {
        if host::act_for(held.context_id) {
            decide_held(shared, Held { deadline_ms: now_ms, ..held }, now_ms);
        }
    }
    host::act_for(back_to);
}

/// The held request of the effective context, decided again and carried out.
fn decide_held(shared: &Shared, held: Held, now_ms: u64) {
    let Some(request) = host::request_headers() else {
        http::fail_closed();
        return;
    };
    match http::decide(shared, &request, now_ms, now_ms < held.deadline_ms, None) {
        Some(Decision::Final(verdict)) => {
            let (action, headers) = http::conclude(shared, verdict, now_ms / 1000);
            if !headers.is_empty()
                && let Ok(mut stored) = shared.response_headers.try_borrow_mut()
            {
                stored.insert(held.context_id, headers);
            }
            if action == ProxyAction::Continue && !host::resume_request() {
                http::fail_closed();
            }
        }
        Some(Decision::Hold { waiting, .. }) => hold_again(shared, Held { waiting, ..held }),
        None => {
            http::fail_closed();
        }
    }
}

fn hold_again(shared: &Shared, held: Held) {
    match shared.held.try_borrow_mut() {
        Ok(mut requests) => requests.hold(held),
        Err(_) => {
            http::fail_closed();
        }
    }
}

/// Whether a held request waits for `provider`'s keys.
pub fn waits_for_keys(held: &Held, provider: impl Fn(usize) -> bool) -> bool {
    matches!(held.waiting, Waiting::Keys(p) if provider(p))
}
