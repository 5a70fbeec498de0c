//! A verified caller's live group memberships for one request: which groups could
//! change its decision, what the cache knows about them, and whether the request
//! must wait for a lookup or be refused because one failed.
//!
//! Membership only ever adds to what the token and the directory say. A group is
//! looked up only if a rule about this request names it and the decision differs
//! between "member" and "not a member" of the unknown groups; deny-wins and
//! allow rules are both monotone in the caller's groups, so when the two extremes
//! agree, every mixture of answers would agree too.

use crate::group_cache::{GroupCache, Membership};
use crate::policy::Policy;
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
            }
        }
    }
    if !unknown.is_empty() && decision_depends_on(policy, request, &resolved, &unknown) {
        // Due lookups start even for a request that cannot wait: the next one finds
        // the answer.
        if let Some(email) = caller.email.as_deref() {
            for group in unknown.iter() {
                if matches!(cache.peek(email, group, now), Membership::Due { .. }) {
                    cache.claim(email, group, now);
                }
            }
        }
        return if waitable { Live::Waiting } else { Live::Unavailable };
    }
    for membership in used {
        cache.count_use(membership);
    }
    Live::Resolved(resolved)
}

/// Whether being in none or all of `unknown` changes the policy's decision.
fn decision_depends_on(policy: &Policy, request: &RequestShape, caller: &Caller, unknown: &GroupSet) -> bool {
    let mut in_all = caller.clone();
    in_all.groups.union_with(unknown);
    policy.evaluate(request, caller) != policy.evaluate(request, &in_all)
}
