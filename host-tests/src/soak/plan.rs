//! Who sends what during a soak, and what each request must get back.
//!
//! Users `user{i}`: nine in ten are admitted, one in ten refused, each always on the
//! same path with the same kind of token, so every answer is known in advance from the
//! demo policy (`policies/demo.json`: `/hello` for the domain example.com, `/eng` for
//! the group eng@example.com, `/oncall` for oncall@example.com, looked up live):
//!
//! | `i % 10` | kind | path | answer |
//! |---|---|---|---|
//! | 1, 2, 3 | member of the live group | `/oncall` | 200 |
//! | 4 | `groups` claim eng@example.com | `/eng` | 200 |
//! | 5–9 | example.com staff | `/hello` | 200 |
//! | 0 | refused, by `(i / 10) % 5`: partner.example on `/hello` (403), not in the live group on `/oncall` (403), wrong audience (401), unverified email (401), domain not allowed (401) | | 403 / 401 |
//!
//! Live-group membership changes during the run: some members are removed and some
//! non-members added, then the reverse. Around each change the answer for an affected
//! user may legitimately be either until wsgate's cached answer expires, see
//! [`Changes::expected_member`].

use serde_json::Value;
use std::time::{Duration, Instant};
use wsgate_fixtures::GoogleClaims;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/oncall`, admitted while a member of the live group.
    LiveMember,
    /// `/eng`, admitted through the token's `groups` claim.
    EngClaim,
    /// `/hello`, admitted for the example.com domain.
    Staff,
    /// partner.example (an accepted domain) on `/hello`, which admits example.com only: 403.
    PartnerDomain,
    /// `/oncall` while not a member of the live group: 403.
    NotInGroup,
    /// A token for another audience: 401 `audience_not_allowed`.
    WrongAudience,
    /// `email_verified: false`: 401 `email_not_verified`.
    Unverified,
    /// `hd` other.example, not an accepted domain: 401 `domain_not_allowed`.
    OtherDomain,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::LiveMember => "live_member",
            Kind::EngClaim => "eng_claim",
            Kind::Staff => "staff",
            Kind::PartnerDomain => "partner_domain",
            Kind::NotInGroup => "not_in_group",
            Kind::WrongAudience => "wrong_audience",
            Kind::Unverified => "unverified_email",
            Kind::OtherDomain => "domain_not_allowed",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::LiveMember | Kind::NotInGroup => "/oncall",
            Kind::EngClaim => "/eng",
            _ => "/hello",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub index: usize,
    pub email: String,
    pub kind: Kind,
    pub path: &'static str,
    /// Whether the answer depends on the live group (then on the membership at the time).
    pub live: bool,
    /// A member of the live group at the start.
    pub initially_member: bool,
}

impl User {
    /// The ID-token claims for this user, issued at `now` for an hour (Google's lifetime).
    pub fn claims(&self, now: u64, audience: &str) -> Value {
        let audience = if self.kind == Kind::WrongAudience { "another-service" } else { audience };
        let groups: &[&str] = if self.kind == Kind::EngClaim { &["eng@example.com"] } else { &[] };
        GoogleClaims::id_token(&self.email, audience, now)
            .email_verified(self.kind != Kind::Unverified)
            .groups(groups)
            .build()
    }

    /// The status wsgate must answer when it refuses this user.
    pub fn refusal_status(&self) -> u16 {
        match self.kind {
            Kind::WrongAudience | Kind::Unverified | Kind::OtherDomain => 401,
            _ => 403,
        }
    }

    /// Admitted, given the live group's membership (ignored unless [`User::live`]).
    pub fn admitted(&self, member: bool) -> bool {
        match self.kind {
            Kind::LiveMember | Kind::NotInGroup => member,
            Kind::EngClaim | Kind::Staff => true,
            _ => false,
        }
    }
}

pub fn users(count: usize) -> Vec<User> {
    (0..count)
        .map(|index| {
            let kind = match index % 10 {
                1..=3 => Kind::LiveMember,
                4 => Kind::EngClaim,
                5..=9 => Kind::Staff,
                _ => match (index / 10) % 5 {
                    0 => Kind::PartnerDomain,
                    1 => Kind::NotInGroup,
                    2 => Kind::WrongAudience,
                    3 => Kind::Unverified,
                    _ => Kind::OtherDomain,
                },
            };
            let domain = match kind {
                Kind::PartnerDomain => "partner.example",
                Kind::OtherDomain => "other.example",
                _ => "example.com",
            };
            let live = matches!(kind, Kind::LiveMember | Kind::NotInGroup);
            User { index, email: format!("user{index}@{domain}"), kind, path: kind.path(), live, initially_member: kind == Kind::LiveMember }
        })
        .collect()
}

/// The users whose membership flips at each change: the first `count` members are
/// removed and the first `count` non-members added (then the reverse).
pub fn flipping(users: &[User], count: usize) -> Vec<usize> {
    let members = users.iter().filter(|u| u.kind == Kind::LiveMember).take(count);
    let others = users.iter().filter(|u| u.kind == Kind::NotInGroup).take(count);
    members.chain(others).map(|u| u.index).collect()
}

/// The user of request `i`: every block of `users` requests visits each user once,
/// in a scattered order.
pub fn user_of(i: u64, users: usize) -> usize {
    let users = users as u64;
    // 7919 is prime, so coprime with any user count it does not divide.
    let step = if users.is_multiple_of(7919) { 1 } else { 7919 };
    ((i.wrapping_mul(step)) % users) as usize
}

/// One change of the live group's members.
#[derive(Debug, Clone)]
pub struct Change {
    /// Taken just before the stand-in's members changed.
    pub at: Instant,
    pub at_request: u64,
    /// The users whose membership flipped, and their membership afterwards.
    pub flipped: Vec<(usize, bool)>,
}

/// Every change so far, and the margins that define the undecidable window.
#[derive(Debug, Clone)]
pub struct Changes {
    pub list: Vec<Change>,
    /// How long a cached "member" / "not a member" answer is trusted (`ttl_seconds`,
    /// `negative_ttl_seconds`).
    pub ttl: Duration,
    pub negative_ttl: Duration,
    /// Added to the TTL: wsgate counts time in whole seconds, and an answer fetched
    /// just before the change is stored a moment after it.
    pub margin: Duration,
}

/// What the live group's membership is for a request, as far as a check can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Known(bool),
    /// The request overlapped a change's window for this user: either answer is right.
    Undecidable,
}

impl Changes {
    /// The window after a change in which `user`'s answer may be either: from the
    /// change until the answer cached before it has expired.
    pub fn window(&self, became_member: bool) -> Duration {
        // Removed: a cached "member" lives `ttl`; added: a cached "not a member" lives `negative_ttl`.
        (if became_member { self.negative_ttl } else { self.ttl }) + self.margin
    }

    /// `user`'s membership for a request sent at `sent` and answered at `done`: a
    /// request answered before a change saw the old membership, one sent after the
    /// change's window the new one; one overlapping `[change, change + window]` is
    /// undecidable (for this user only).
    pub fn expected_member(&self, user: &User, sent: Instant, done: Instant) -> Membership {
        let mut member = user.initially_member;
        for change in &self.list {
            let Some(&(_, after)) = change.flipped.iter().find(|(u, _)| *u == user.index) else { continue };
            if done < change.at {
                return Membership::Known(member);
            }
            if sent > change.at + self.window(after) {
                member = after;
                continue;
            }
            return Membership::Undecidable;
        }
        Membership::Known(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_user_in_ten_is_refused_and_requests_visit_every_user() {
        let users = users(1000);
        let refused = users.iter().filter(|u| !u.admitted(u.initially_member)).count();
        assert_eq!(refused, 100);
        let mut seen = vec![false; 1000];
        for i in 0..1000 {
            seen[user_of(i, 1000)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn the_window_after_a_change_is_undecidable_for_the_flipped_user_only() {
        let users = users(100);
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let at = |s: u64| start + Duration::from_secs(s);
        let changes = Changes {
            list: vec![Change { at: at(10), at_request: 0, flipped: vec![(1, false)] }],
            ttl: 5 * second,
            negative_ttl: 3 * second,
            margin: 2 * second,
        };
        assert_eq!(changes.expected_member(&users[1], at(1), at(9)), Membership::Known(true));
        assert_eq!(changes.expected_member(&users[1], at(9), at(11)), Membership::Undecidable);
        assert_eq!(changes.expected_member(&users[1], at(16), at(16)), Membership::Undecidable);
        assert_eq!(changes.expected_member(&users[1], at(18), at(18)), Membership::Known(false));
        assert_eq!(changes.expected_member(&users[2], at(11), at(11)), Membership::Known(true));
    }
}
