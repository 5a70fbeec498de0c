//! A compiled rule: conditions on the request, subjects, and an effect.

use crate::policy::callers::ViaSet;
use crate::policy::pattern::{HostPattern, Method, MethodSet, PathPattern, PathReading, RequestShape};
use crate::policy::subjects::{Caller, Subjects};
use crate::policy_config::Effect;
use std::rc::Rc;

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: Rc<str>,
    pub effect: Effect,
    pub dry_run: bool,
    /// Empty: any host.
    pub hosts: Vec<HostPattern>,
    /// Empty: any path.
    pub paths: Vec<PathPattern>,
    pub methods: MethodSet,
    /// The ways the request must have come (`match.callers`); empty: any.
    pub via: ViaSet,
    /// The providers one of which must have verified the caller (`match.providers`);
    /// empty: any.
    pub providers: Vec<Rc<str>>,
    pub subjects: Subjects,
}

impl Rule {
    /// Whether the rule is about this request and this caller. Cheapest checks first.
    pub fn applies(&self, request: &RequestShape, method: Method, reading: &PathReading, caller: &Caller) -> bool {
        self.matches_request(request, method, reading) && self.verified_by(caller) && self.via.admits(caller.authenticated, caller.via) && self.subjects.matches(caller)
    }

    /// Whether one of the rule's providers verified `caller` (any, if it names none).
    fn verified_by(&self, caller: &Caller) -> bool {
        self.providers.is_empty() || caller.provider.as_ref().is_some_and(|provider| self.providers.contains(provider))
    }

    /// Whether the rule is about this request, read as `method` and `reading`, whoever
    /// the caller.
    pub fn matches_request(&self, request: &RequestShape, method: Method, reading: &PathReading) -> bool {
        self.methods.matches(method)
            && (self.hosts.is_empty() || self.hosts.iter().any(|h| h.matches(&request.host)))
            && (self.paths.is_empty() || self.paths.iter().any(|p| p.matches(reading)))
    }

    /// Whether every request and caller this rule applies to, `other` applies to too
    /// (conservative: `false` when unsure). Used to find shadowed rules.
    pub fn within(&self, other: &Rule) -> bool {
        let hosts = other.hosts.is_empty() || (!self.hosts.is_empty() && self.hosts.iter().all(|h| other.hosts.iter().any(|o| h.within(o))));
        let paths = other.paths.is_empty() || (!self.paths.is_empty() && self.paths.iter().all(|p| other.paths.iter().any(|o| p.within(o))));
        let providers = other.providers.is_empty() || (!self.providers.is_empty() && self.providers.iter().all(|p| other.providers.contains(p)));
        hosts && paths && providers && self.methods.within(other.methods) && self.via.within(&other.via) && self.subjects.within(&other.subjects)
    }
}
