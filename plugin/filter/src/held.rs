//! Requests held while what their decision needs is fetched: which, waiting for
//! what, and until when.

/// What a held request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// This provider's keys.
    Keys(usize),
    /// Live group lookups.
    Groups,
}

/// One held request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub context_id: u32,
    pub waiting: Waiting,
    /// Unix ms after which it is decided with whatever there is.
    pub deadline_ms: u64,
}

#[derive(Debug, Default)]
pub struct HeldRequests(Vec<Held>);

impl HeldRequests {
    pub fn hold(&mut self, held: Held) {
        self.0.push(held);
    }

    /// Forgets a request whose client went away.
    pub fn forget(&mut self, context_id: u32) {
        self.0.retain(|held| held.context_id != context_id);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Takes out the requests `release` says are ready to be decided again.
    pub fn release(&mut self, mut release: impl FnMut(&Held) -> bool) -> Vec<Held> {
        let (ready, waiting) = self.0.drain(..).partition(|held| release(held));
        self.0 = waiting;
        ready
    }
}
