//! Group policies, compiled: who may call what. A matching deny wins, otherwise a
//! matching allow admits, otherwise the default applies; among several matching rules
//! of the deciding effect the one with the lowest name is reported, so rule order
//! never changes a decision or its explanation.

pub mod callers;
pub mod compile;
pub mod groups;
pub mod index;
pub mod lint;
pub mod names;
pub mod path;
pub mod pattern;
pub mod rule;
pub mod samples;
pub mod subjects;

use crate::policy_config::Effect;
use groups::{Directory, GroupId, GroupSet, GroupTable};
use index::{RuleId, RuleIndex};
use pattern::{PathReading, RequestShape};
use std::borrow::Cow;
use rule::Rule;
use std::rc::Rc;
use names::{canonical_domain, canonical_email};
use callers::{CallerDefinition, CallerId, TokenFacts};
use subjects::Caller;

/// A compiled policy.
#[derive(Debug)]
pub struct Policy {
    /// Sorted by name.
    rules: Vec<Rule>,
    index: RuleIndex,
    pub default: Effect,
    pub dry_run: bool,
    groups: GroupTable,
    directory: Directory,
    pub explain_header: Option<String>,
    /// Some path pattern has upper case: every reading is also compared case-folded.
    mixed_case_patterns: bool,
    /// Named callers, by [`CallerId`].
    callers: Vec<CallerDefinition>,
}

/// What the policy decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyDecision {
    pub effect: Effect,
    /// The deciding rule; `None` when the default decided.
    pub rule: Option<RuleId>,
    /// What enforcing the dry-run rules too would have decided, when that differs.
    pub dry_run: Option<(Effect, Option<RuleId>)>,
}

/// The lowest-named matching rule of each effect, enforced and all.
#[derive(Default)]
struct Matches {
    enforced: [Option<RuleId>; 2],
    all: [Option<RuleId>; 2],
}

impl Matches {
    fn offer(&mut self, id: RuleId, rule: &Rule) {
        let slot = rule.effect as usize;
        let keep_lowest = |current: &mut Option<RuleId>| *current = Some(current.map_or(id, |c| c.min(id)));
        if !rule.dry_run {
            keep_lowest(&mut self.enforced[slot]);
        }
        keep_lowest(&mut self.all[slot]);
    }

    fn decide(found: [Option<RuleId>; 2], default: Effect) -> (Effect, Option<RuleId>) {
        match found {
            [_, Some(deny)] => (Effect::Deny, Some(deny)),
            [Some(allow), None] => (Effect::Allow, Some(allow)),
            [None, None] => (default, None),
        }
    }
}

/// Of two readings' decisions, the one to enforce: a deny by a rule over a default
/// deny over an allow; the earlier reading when they tie.
fn stricter(first: (Effect, Option<RuleId>), second: (Effect, Option<RuleId>)) -> (Effect, Option<RuleId>) {
    let rank = |(effect, rule): (Effect, Option<RuleId>)| match (effect, rule) {
        (Effect::Deny, Some(_)) => 2,
        (Effect::Deny, None) => 1,
        (Effect::Allow, _) => 0,
    };
    if rank(second) > rank(first) { second } else { first }
}

impl Policy {
    /// Decides on every reading of the request's path (see [`path`]) and keeps the
    /// strictest answer: a deny under any reading denies, an allow needs every reading.
    pub fn evaluate(&self, request: &RequestShape, caller: &Caller) -> PolicyDecision {
        let mut strictest: Option<[(Effect, Option<RuleId>); 2]> = None;
        let candidates = self.index.host_candidates(&request.host);
        for reading in &self.path_readings(request) {
            for &method in &request.methods {
                let mut matches = Matches::default();
                candidates.for_each(&reading.path, |id| {
                    if let Some(rule) = self.rules.get(id).filter(|rule| rule.applies(request, method, reading, caller)) {
                        matches.offer(id, rule);
                    }
                });
                let decided = [Matches::decide(matches.enforced, self.default), Matches::decide(matches.all, self.default)];
                strictest = Some(match strictest {
                    None => decided,
                    Some([enforced, all]) => [stricter(enforced, decided[0]), stricter(all, decided[1])],
                });
            }
        }
        let [(effect, rule), shadow] = strictest.unwrap_or([(self.default, None); 2]);
        PolicyDecision { effect, rule, dry_run: (shadow.0 != effect).then_some(shadow) }
    }

    /// The referenced groups that enforced rules about `request` name: the only groups
    /// whose membership can change its decision, so the only ones worth looking up.
    pub fn groups_in_play(&self, request: &RequestShape) -> GroupSet {
        let mut groups = GroupSet::default();
        let candidates = self.index.host_candidates(&request.host);
        for reading in &self.path_readings(request) {
            candidates.for_each(&reading.path, |id| {
                let about_it = |rule: &&Rule| request.methods.iter().any(|&method| rule.matches_request(request, method, reading));
                if let Some(rule) = self.rules.get(id).filter(|rule| !rule.dry_run && !rule.subjects.groups.is_empty()).filter(about_it) {
                    for group in &rule.subjects.groups {
                        groups.insert(*group);
                    }
                }
            });
        }
        groups
    }

    /// The path readings to decide on (each with every method reading): the request's,
    /// each also case-folded where the path or a pattern of this policy has upper case
    /// (a case-insensitive router sends `/api/reports` to the handler of `/api/Reports`).
    fn path_readings<'a>(&self, request: &'a RequestShape) -> Vec<Cow<'a, PathReading>> {
        let needs_folding = |r: &PathReading| !r.fold_case && (self.mixed_case_patterns || r.has_upper_case());
        let mut paths: Vec<Cow<'a, PathReading>> = Vec::with_capacity(request.readings.len() * 2);
        for reading in &request.readings {
            paths.push(Cow::Borrowed(reading));
            if needs_folding(reading) {
                paths.push(Cow::Owned(reading.folded()));
            }
        }
        paths
    }

    /// The email of referenced group `id`.
    pub fn group_name(&self, id: GroupId) -> &str {
        self.groups.name(id)
    }

    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id)
    }

    pub fn rule_name(&self, id: RuleId) -> Option<&Rc<str>> {
        self.rules.get(id).map(|rule| &rule.name)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The caller as rules see it: memberships from the directory (by email) and from
    /// the token's groups claim, nested groups included. A claimed group expands only
    /// through the directory's groups, never through a member's entry.
    pub fn caller(&self, email: Option<&str>, domain: Option<&str>, claimed_groups: &[String]) -> Caller {
        let email = email.map(canonical_email);
        let mut groups = GroupSet::default();
        if let Some(direct) = email.as_deref().and_then(|e| self.directory.groups_of(e)) {
            groups.union_with(direct);
        }
        for group in claimed_groups {
            let group = canonical_email(group);
            match self.directory.groups_of_group(&group) {
                Some(nested) => groups.union_with(nested),
                None => {
                    if let Some(id) = self.groups.id(&group) {
                        groups.insert(id);
                    }
                }
            }
        }
        Caller { authenticated: true, email, domain: domain.map(canonical_domain), groups, via: None, provider: None }
    }

    /// The named caller a verified token came from, if any: the first definition that
    /// recognises it (`callers` refuses definitions that claim the same account).
    pub fn recognise(&self, token: &TokenFacts<'_>) -> Option<CallerId> {
        self.callers.iter().position(|c| c.recognises(token)).map(|i| i as CallerId)
    }

    /// Whether some caller's decision reads the request body (`on_behalf_of`).
    pub fn reads_bodies(&self) -> bool {
        self.callers.iter().any(|c| c.on_behalf_of.is_some())
    }

    pub fn caller_definition(&self, id: CallerId) -> Option<&CallerDefinition> {
        self.callers.get(usize::from(id))
    }

    /// The id of the caller called `name`.
    pub fn caller_id(&self, name: &str) -> Option<CallerId> {
        self.callers.iter().position(|c| *c.name == *name).map(|i| i as CallerId)
    }

    /// The directory snapshot's members that belong to some group the policy names.
    pub fn directory_members(&self) -> Vec<&str> {
        self.directory.members()
    }

    /// The names of the referenced groups in `set`, in policy order.
    pub fn group_names<'a>(&'a self, set: &'a GroupSet) -> impl Iterator<Item = &'a str> + 'a {
        set.iter().map(|id| self.groups.name(id))
    }
}
