//! Who a rule is about, and the caller as rules see it.

use crate::policy::callers::CallerId;
use crate::policy::groups::{GroupId, GroupSet};
use std::collections::HashSet;
use std::rc::Rc;

/// The caller of a request, resolved once per verified token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// False for a request without a (valid) token.
    pub authenticated: bool,
    /// Lower case.
    pub email: Option<String>,
    /// The verified `hd`, lower case.
    pub domain: Option<String>,
    /// Referenced groups the caller belongs to, from the token and the directory.
    pub groups: GroupSet,
    /// The named caller (`callers`) the request came through; `None`: directly.
    pub via: Option<CallerId>,
    /// The name of the provider that verified the caller's token.
    pub provider: Option<Rc<str>>,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller::default()
    }
}

/// A rule's subjects, compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subjects {
    pub users: HashSet<String>,
    pub groups: Vec<GroupId>,
    pub domains: HashSet<String>,
    pub service_accounts: HashSet<String>,
    /// From `*@project.iam.gserviceaccount.com`: the part after `*`, `@` included.
    pub service_account_suffixes: Vec<String>,
    pub authenticated: bool,
    pub anonymous: bool,
}

impl Subjects {
    pub fn matches(&self, caller: &Caller) -> bool {
        if self.anonymous {
            return true;
        }
        if !caller.authenticated {
            return false;
        }
        self.authenticated
            || self.groups.iter().any(|id| caller.groups.contains(*id))
            || caller.domain.as_ref().is_some_and(|d| self.domains.contains(d))
            || caller.email.as_ref().is_some_and(|email| self.matches_email(email))
    }

    fn matches_email(&self, email: &str) -> bool {
        self.users.contains(email)
            || self.service_accounts.contains(email)
            || self.service_account_suffixes.iter().any(|suffix| email.ends_with(suffix.as_str()))
    }

    /// Whether everyone these subjects match, `other` matches too (conservative).
    pub fn within(&self, other: &Subjects) -> bool {
        if other.anonymous {
            return true;
        }
        if self.anonymous {
            return false;
        }
        if other.authenticated {
            return true;
        }
        !self.authenticated
            && self.users.iter().all(|u| other.users.contains(u))
            && self.groups.iter().all(|g| other.groups.contains(g))
            && self.domains.iter().all(|d| other.domains.contains(d))
            && self.service_accounts.iter().all(|s| other.matches_email(s))
            && self.service_account_suffixes.iter().all(|s| other.service_account_suffixes.contains(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(email: &str, domain: Option<&str>, groups: &[GroupId]) -> Caller {
        let mut set = GroupSet::default();
        for id in groups {
            set.insert(*id);
        }
        Caller { authenticated: true, email: Some(email.into()), domain: domain.map(Into::into), groups: set, via: None, provider: None }
    }

    #[test]
    fn each_subject_kind_matches_its_callers() {
        let subjects = Subjects {
            users: HashSet::from(["alice@example.com".into()]),
            groups: vec![3],
            domains: HashSet::from(["example.org".into()]),
            service_accounts: HashSet::from(["ci@proj.iam.gserviceaccount.com".into()]),
            service_account_suffixes: vec!["@batch.iam.gserviceaccount.com".into()],
            ..Subjects::default()
        };
        assert!(subjects.matches(&caller("alice@example.com", None, &[])));
        assert!(subjects.matches(&caller("bob@example.com", None, &[3])));
        assert!(subjects.matches(&caller("carol@example.org", Some("example.org"), &[])));
        assert!(subjects.matches(&caller("ci@proj.iam.gserviceaccount.com", None, &[])));
        assert!(subjects.matches(&caller("job-7@batch.iam.gserviceaccount.com", None, &[])));
        assert!(!subjects.matches(&caller("job@evilbatch.iam.gserviceaccount.com", None, &[])));
        assert!(!subjects.matches(&caller("eve@example.com", Some("example.com"), &[2])));
        assert!(!subjects.matches(&Caller::anonymous()));
    }

    #[test]
    fn anonymous_matches_everyone_and_authenticated_every_verified_caller() {
        let anyone = Subjects { anonymous: true, ..Subjects::default() };
        let verified = Subjects { authenticated: true, ..Subjects::default() };
        assert!(anyone.matches(&Caller::anonymous()) && anyone.matches(&caller("a@b", None, &[])));
        assert!(!verified.matches(&Caller::anonymous()) && verified.matches(&caller("a@b", None, &[])));
    }
}
