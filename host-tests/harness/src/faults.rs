//! Faults a test injects: a chosen import answers a chosen status instead of doing
//! its work, on every call or on its next N, as a host failing that call would. This
//! is how the plugin's branches for a failing host run at all.

use crate::status::Status;
use std::collections::HashMap;
use std::fmt;

/// How many calls a fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Every call from now on.
    Always,
    /// The next N calls; after them the import works again. `Next(0)` cancels a
    /// fault planned earlier.
    Next(u32),
}

/// The plugin does not import this host call, so a fault on it could never fire
/// (most likely a misspelt name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotImported(pub String);

impl fmt::Display for NotImported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the plugin does not import `{}`", self.0)
    }
}

impl std::error::Error for NotImported {}

#[derive(Debug, Clone, Copy)]
struct Fault {
    status: Status,
    /// `None`: always.
    remaining: Option<u32>,
}

/// The faults planned for one VM, and how many calls each has answered.
#[derive(Debug, Default)]
pub struct Faults {
    planned: HashMap<String, Fault>,
    answered: HashMap<String, u32>,
}

impl Faults {
    /// Replaces whatever was planned for `import`.
    pub fn plan(&mut self, import: &str, status: Status, times: Times) {
        let remaining = match times {
            Times::Always => None,
            Times::Next(0) => {
                self.planned.remove(import);
                return;
            }
            Times::Next(calls) => Some(calls),
        };
        self.planned.insert(import.to_owned(), Fault { status, remaining });
    }

    /// The status `import` answers instead of doing its work, if a fault is planned
    /// for this call; the call is counted.
    pub fn answer(&mut self, import: &str) -> Option<Status> {
        // The common case, on every host call: nothing planned, no lookup.
        if self.planned.is_empty() {
            return None;
        }
        let fault = self.planned.get_mut(import)?;
        let status = fault.status;
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining -= 1;
            if *remaining == 0 {
                self.planned.remove(import);
            }
        }
        *self.answered.entry(import.to_owned()).or_default() += 1;
        Some(status)
    }

    /// How many calls of `import` a fault has answered.
    pub fn answered(&self, import: &str) -> u32 {
        self.answered.get(import).copied().unwrap_or(0)
    }
}
