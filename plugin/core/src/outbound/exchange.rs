//! Sign-in code exchanges: one `POST` to the token endpoint per callback, made from
//! the callback's own context, its answer kept for that request (which may be
//! decided more than once: keys or groups may still be fetched) until it ends. A
//! code is good for one exchange, so none is ever made twice.

use super::call::{Answer, CallId, OutboundCall};
use super::effects::Outbox;
use crate::session::exchange::{ExchangeAnswer, ExchangeRequest};
use std::collections::HashMap;

#[derive(Debug)]
enum State {
    Pending(CallId),
    Done(ExchangeAnswer),
}

/// At most this many code exchanges are in flight per VM: callbacks with made-up
/// codes cost a token-endpoint call each, and must not get the client throttled.
pub const MAX_IN_FLIGHT: usize = 64;

/// The exchanges of one VM, by the context of the callback that made each.
#[derive(Debug, Default)]
pub struct Exchanges {
    by_context: HashMap<u32, State>,
}

impl Exchanges {
    /// Queues the exchange of request `context_id`; false if it already has one, or
    /// [`MAX_IN_FLIGHT`] are under way.
    pub fn start(&mut self, outbox: &mut Outbox, context_id: u32, request: &ExchangeRequest) -> bool {
        let in_flight = self.by_context.values().filter(|state| matches!(state, State::Pending(_))).count();
        if self.by_context.contains_key(&context_id) || in_flight >= MAX_IN_FLIGHT {
            return false;
        }
        let id = outbox.call(|id| OutboundCall::post_form(id, request));
        self.by_context.insert(context_id, State::Pending(id));
        true
    }

    pub fn owns(&self, id: CallId) -> bool {
        self.context_of(id).is_some()
    }

    fn context_of(&self, id: CallId) -> Option<u32> {
        self.by_context.iter().find_map(|(&context, state)| matches!(state, State::Pending(pending) if *pending == id).then_some(context))
    }

    /// Call `id` answered (or failed: [`Answer::none`]); the context it was for.
    pub fn answered(&mut self, id: CallId, answer: &Answer) -> Option<u32> {
        let context = self.context_of(id)?;
        let kept = ExchangeAnswer { status: answer.status(), body: if answer.truncated() { Vec::new() } else { answer.body.clone() } };
        self.by_context.insert(context, State::Done(kept));
        Some(context)
    }

    /// The answer for request `context_id`, once there is one. If it may not wait
    /// any longer, a pending exchange counts as failed.
    pub fn answer_for(&mut self, context_id: u32, may_wait: bool) -> Option<ExchangeAnswer> {
        match self.by_context.get(&context_id)? {
            State::Done(answer) => Some(answer.clone()),
            State::Pending(_) if may_wait => None,
            State::Pending(_) => {
                self.by_context.insert(context_id, State::Done(ExchangeAnswer::default()));
                Some(ExchangeAnswer::default())
            }
        }
    }

    /// Request `context_id` ended: its exchange (answered or not) goes with it.
    pub fn context_done(&mut self, context_id: u32) {
        self.by_context.remove(&context_id);
    }
}

impl OutboundCall {
    /// The token request as a form `POST`.
    pub fn post_form(id: CallId, request: &ExchangeRequest) -> Self {
        let headers = vec![
            (":method", "POST".to_owned()),
            (":path", request.path.clone()),
            (":authority", request.authority.clone()),
            ("content-type", "application/x-www-form-urlencoded".to_owned()),
            ("accept", "application/json".to_owned()),
            ("user-agent", "wsgate".to_owned()),
        ];
        Self { id, cluster: request.cluster.clone(), headers, body: Some(request.body.clone()), timeout_ms: request.timeout_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Effect;

    fn request() -> ExchangeRequest {
        ExchangeRequest { cluster: "google_oauth".into(), authority: "oauth2.googleapis.com".into(), path: "/token".into(), body: b"code=x".to_vec(), timeout_ms: 5000 }
    }

    #[test]
    fn one_exchange_per_callback_and_its_answer_kept_until_the_request_ends() {
        let (mut exchanges, mut outbox) = (Exchanges::default(), Outbox::default());
        assert!(exchanges.start(&mut outbox, 7, &request()));
        assert!(!exchanges.start(&mut outbox, 7, &request()), "never a second exchange of one code");
        let Some(Effect::Call(call)) = outbox.take() else { panic!("a call") };
        assert_eq!((call.header(":method"), call.header("content-type"), call.body.as_deref()), (Some("POST"), Some("application/x-www-form-urlencoded"), Some(&b"code=x"[..])));
        assert!(outbox.take().is_none());
        assert_eq!(exchanges.answer_for(7, true), None, "pending");
        assert_eq!(exchanges.answered(call.id, &Answer::new(200, &[], b"{}")), Some(7));
        assert_eq!(exchanges.answer_for(7, true).and_then(|a| a.status), Some(200));
        assert_eq!(exchanges.answer_for(7, false).and_then(|a| a.status), Some(200), "kept for later rounds");
        exchanges.context_done(7);
        assert_eq!(exchanges.answer_for(7, false), None);
    }

    #[test]
    fn exchanges_in_flight_are_bounded() {
        let (mut exchanges, mut outbox) = (Exchanges::default(), Outbox::default());
        for context in 0..MAX_IN_FLIGHT as u32 {
            assert!(exchanges.start(&mut outbox, context, &request()));
        }
        assert!(!exchanges.start(&mut outbox, 999, &request()), "one more waits for none: it fails");
        let Some(Effect::Call(first)) = outbox.take() else { panic!("a call") };
        exchanges.answered(first.id, &Answer::none());
        assert!(exchanges.start(&mut outbox, 999, &request()), "an answered one makes room");
    }

    #[test]
    fn an_exchange_that_cannot_wait_longer_counts_as_failed() {
        let (mut exchanges, mut outbox) = (Exchanges::default(), Outbox::default());
        exchanges.start(&mut outbox, 3, &request());
        assert_eq!(exchanges.answer_for(3, false), Some(ExchangeAnswer::default()));
        let Some(Effect::Call(call)) = outbox.take() else { panic!("a call") };
        assert_eq!(exchanges.answered(call.id, &Answer::new(200, &[], b"late")), None, "a late answer is not taken");
    }
}
