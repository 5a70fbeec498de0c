//! Requests paused while what their decision needs is fetched: which, waiting for
//! what, until when, and which are ready to be decided again.

/// What a paused request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitingFor {
    /// This provider's keys.
    Keys(usize),
    /// Live group lookups.
    Groups,
    /// The code exchange of this request (its context id).
    Exchange(u32),
}

/// One paused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paused {
    pub context_id: u32,
    pub waiting_for: WaitingFor,
    /// Unix ms after which it is decided with whatever there is.
    pub deadline: u64,
}

impl Paused {
    /// Whether, decided at `now`, it may be paused again.
    pub fn may_wait(&self, now: u64) -> bool {
        now < self.deadline
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    paused: Paused,
    /// What it waited for arrived (or failed): decide it again.
    woken: bool,
}

/// The paused requests of one VM.
#[derive(Debug, Default)]
pub struct PausedRequests(Vec<Entry>);

impl PausedRequests {
    pub fn pause(&mut self, paused: Paused) {
        self.0.push(Entry { paused, woken: false });
    }

    /// Forgets a request whose client went away.
    pub fn forget(&mut self, context_id: u32) {
        self.0.retain(|entry| entry.paused.context_id != context_id);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The requests waiting for `waiting_for` are ready to be decided again; if
    /// `patient`, each may still wait until its own deadline, else not at all
    /// (what they waited for failed on the spot).
    pub fn wake(&mut self, waiting_for: WaitingFor, patient: bool, now: u64) {
        for entry in self.0.iter_mut().filter(|entry| entry.paused.waiting_for == waiting_for) {
            entry.woken = true;
            if !patient {
                entry.paused.deadline = entry.paused.deadline.min(now);
            }
        }
    }

    /// Takes out the requests to decide again at `now`: woken, or past their deadline.
    pub fn take_ready(&mut self, now: u64) -> Vec<Paused> {
        let (ready, waiting): (Vec<Entry>, Vec<Entry>) = self.0.drain(..).partition(|entry| entry.woken || now >= entry.paused.deadline);
        self.0 = waiting;
        ready.into_iter().map(|entry| entry.paused).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paused(context_id: u32, waiting_for: WaitingFor, deadline: u64) -> Paused {
        Paused { context_id, waiting_for, deadline }
    }

    #[test]
    fn a_wake_readies_only_the_requests_waiting_for_that() {
        let mut requests = PausedRequests::default();
        requests.pause(paused(2, WaitingFor::Keys(0), 5000));
        requests.pause(paused(3, WaitingFor::Keys(1), 5000));
        requests.pause(paused(4, WaitingFor::Groups, 5000));
        requests.wake(WaitingFor::Keys(1), true, 100);
        assert_eq!(requests.take_ready(100), [paused(3, WaitingFor::Keys(1), 5000)]);
        assert!(requests.take_ready(100).is_empty(), "taken once");
        assert_eq!(requests.take_ready(5000).len(), 2, "the rest at their deadline");
        assert!(requests.is_empty());
    }

    #[test]
    fn a_wake_before_a_pause_does_not_ready_it() {
        let mut requests = PausedRequests::default();
        requests.wake(WaitingFor::Groups, true, 100);
        requests.pause(paused(2, WaitingFor::Groups, 5000));
        assert!(requests.take_ready(200).is_empty());
    }

    #[test]
    fn an_impatient_wake_leaves_no_time_to_wait_and_a_gone_client_is_forgotten() {
        let mut requests = PausedRequests::default();
        requests.pause(paused(2, WaitingFor::Groups, 5000));
        requests.pause(paused(3, WaitingFor::Groups, 5000));
        requests.forget(3);
        requests.wake(WaitingFor::Groups, false, 100);
        let ready = requests.take_ready(100);
        assert_eq!(ready.len(), 1);
        assert!(!ready[0].may_wait(100));
    }
}
