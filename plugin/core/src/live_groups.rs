//! A verified caller's live group memberships for one request: which groups could
//! change its decision, what the cache knows about them, and whether the request
//! must wait for a lookup or be refused because one failed.
//!
//! Membership only ever adds to what the token and the directory say. A group is
//! looked up only if an enforced rule about this request names it and the outcome is
//! open between "member of none" and "member of all" of the unknown groups: deny
//! and allow rules both match more as a caller's groups grow, so a deny that matches
//! with none stays, and no deny with all means none in between (see
//! [`decision_is_open`]).

use crate::group_cache::{GroupCache, Membership};
use crate::policy::{Policy, PolicyDecision};
use crate::policy_config::Effect;
use crate::policy::groups::{GroupId, GroupSet};
use crate::policy::pattern::RequestShape;
use crate::policy::subjects::Caller;

/// How the caller's live groups came out.
#[derive(Debug)]
pub enum Live {
    /// No group the cache knows about matters: decide with the caller as it is.
    AsIs,
    /// The caller with the live memberships added.
    Resolved(Caller),
    /// Lookups that can change the decision are under way: hold the request, then
    /// decide again.
    Waiting,
    /// A group that changes the decision cannot be resolved now.
    Unavailable,
}

/// Resolves `caller`'s live groups for `request`. `may_wait`: the request can be held
/// for lookups; if not, a lookup under way counts as failed (its stale answer is used).
pub fn resolve(policy: &Policy, cache: &mut GroupCache, request: &RequestShape, caller: &Caller, now: u64, may_wait: bool) -> Live {
    let open: Vec<GroupId> = policy.groups_in_play(request).iter().filter(|g| !caller.groups.contains(*g)).collect();
    if open.is_empty() {
        return Live::AsIs;
    }
    let mut resolved = caller.clone();
    let mut unknown = GroupSet::default();
    let mut waitable = false;
    let mut due = Vec::new();
    let mut used = Vec::new();
    for group in open {
        let membership = match caller.email.as_deref() {
            Some(email) => cache.peek(email, group, now),
            // Without an email there is no one to look up.
            None => Membership::BackingOff { stale: None },
        };
        let known = match membership {
            Membership::Fresh(member) => Some(member),
            Membership::Due { .. } | Membership::Pending { .. } if may_wait => None,
            Membership::Due { stale } | Membership::Pending { stale } | Membership::BackingOff { stale } => stale,
        };
        match known {
            Some(member) => {
                used.push(membership);
                if member {
                    resolved.groups.insert(group);
                }
            }
            None => {
                unknown.insert(group);
                waitable |= may_wait && matches!(membership, Membership::Due { .. } | Membership::Pending { .. });
                if matches!(membership, Membership::Due { .. }) {
                    due.push(group);
                }
            }
        }
    }
    if !unknown.is_empty() && decision_is_open(policy, request, &resolved, &unknown) {
        // Due lookups start even for a request that cannot wait: the next one finds
        // the answer.
        if let Some(email) = caller.email.as_deref() {
            for group in due {
                cache.claim(email, group, now);
            }
        }
        return if waitable { Live::Waiting } else { Live::Unavailable };
    }
    for membership in used {
        cache.count_use(membership);
    }
    if let Some(email) = caller.email.as_deref() {
        cache.touch(email, now);
    }
    Live::Resolved(resolved)
}

/// Whether the enforced decision could differ between being in none (`caller`) and
/// all of `unknown`, or anything in between. Settled when a deny rule matches without
/// them (deny wins), or when none matches with all of them and either an allow rule
/// matches without them or none matches with all. Which of several matching rules
/// is reported, and dry-run rules, never cause a lookup.
fn decision_is_open(policy: &Policy, request: &RequestShape, caller: &Caller, unknown: &GroupSet) -> bool {
    let mut in_all = caller.clone();
    in_all.groups.union_with(unknown);
    let without = policy.evaluate(request, caller);
    let with_all = policy.evaluate(request, &in_all);
    let denied_by_rule = |d: &PolicyDecision| d.effect == Effect::Deny && d.rule.is_some();
    let settled = denied_by_rule(&without) || (!denied_by_rule(&with_all) && (without.rule.is_some() || with_all.rule.is_none()));
    !settled
}
