//! The first policy: public path prefixes, and which verified callers are admitted.
//! Default deny: a caller no entry admits is refused.

use crate::verify::Identity;
use std::collections::HashSet;

/// A validated policy.
#[derive(Debug, Default)]
pub struct Policy {
    /// Each starts with `/`.
    pub public_paths: Vec<String>,
    /// Lower-cased.
    pub emails: HashSet<String>,
    /// Lower-cased Workspace domains.
    pub domains: HashSet<String>,
    pub any_authenticated: bool,
}

/// The policy entry that admitted a caller, named as in the config.
pub type RuleName = &'static str;

impl Policy {
    /// Whether `path` (as sent, query included) lies under a public prefix.
    pub fn is_public(&self, path: &[u8]) -> bool {
        let path = strip_query(path);
        is_plain_path(path) && self.public_paths.iter().any(|prefix| under_prefix(path, prefix.as_bytes()))
    }

    /// Which entry admits `identity`, if any.
    pub fn admits(&self, identity: &Identity) -> Option<RuleName> {
        let lower = |value: &Option<String>| value.as_deref().map(str::to_ascii_lowercase);
        if lower(&identity.email).is_some_and(|email| self.emails.contains(&email)) {
            return Some("allow.emails");
        }
        if lower(&identity.domain).is_some_and(|domain| self.domains.contains(&domain)) {
            return Some("allow.domains");
        }
        self.any_authenticated.then_some("allow.authenticated")
    }
}

fn strip_query(path: &[u8]) -> &[u8] {
    let end = path.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(path.len());
    &path[..end]
}

/// `/healthz` covers `/healthz` and `/healthz/…`, never `/healthzz`.
fn under_prefix(path: &[u8], prefix: &[u8]) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest[0] == b'/' || prefix.ends_with(b"/"),
        None => false,
    }
}

/// A path the upstream cannot read differently from us. Anything with dot segments,
/// backslashes, encoded `.`, `/` or `\`, or control bytes might be normalised by the
/// service into another path (`/healthz/../admin`), so it is never public: it needs
/// a token like any other path. Envoy's `normalize_path` removes most of these first.
fn is_plain_path(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') || path.iter().any(|&b| b == b'\\' || b.is_ascii_control() || b >= 0x80) {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    let encoded_separator = [&b"%2e"[..], b"%2f", b"%5c"]
        .iter()
        .any(|needle| lower.windows(3).any(|w| w == *needle));
    let dot_segment = path.split(|&b| b == b'/').any(|segment| segment == b"." || segment == b"..");
    !encoded_separator && !dot_segment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            public_paths: vec!["/healthz".into(), "/static/".into()],
            emails: HashSet::from(["alice@example.com".into()]),
            domains: HashSet::from(["example.org".into()]),
            any_authenticated: false,
        }
    }

    fn identity(email: &str, domain: Option<&str>) -> Identity {
        Identity {
            provider: 0,
            subject: "1".into(),
            email: Some(email.into()),
            domain: domain.map(Into::into),
            expires_at: 0,
        }
    }

    #[test]
    fn public_prefixes_match_whole_segments_only() {
        let policy = policy();
        for path in ["/healthz", "/healthz/live", "/healthz?full=1", "/static/app.js"] {
            assert!(policy.is_public(path.as_bytes()), "{path}");
        }
        for path in ["/healthzz", "/health", "/", "/static", "/api/healthz"] {
            assert!(!policy.is_public(path.as_bytes()), "{path}");
        }
    }

    #[test]
    fn paths_that_could_normalise_elsewhere_are_never_public() {
        let policy = policy();
        for path in ["/healthz/../admin", "/healthz/%2e%2e/admin", "/healthz/..%2Fadmin", "/healthz\\..\\admin", "/healthz/./x", "healthz"] {
            assert!(!policy.is_public(path.as_bytes()), "{path}");
        }
    }

    #[test]
    fn emails_match_case_insensitively() {
        assert_eq!(policy().admits(&identity("Alice@Example.com", None)), Some("allow.emails"));
    }

    #[test]
    fn domains_match_the_hd_claim_not_the_email_suffix() {
        assert_eq!(policy().admits(&identity("bob@example.org", Some("example.org"))), Some("allow.domains"));
        // A personal Google account registered with a company address has no `hd`.
        assert_eq!(policy().admits(&identity("bob@example.org", None)), None);
    }

    #[test]
    fn default_is_deny_and_authenticated_admits_everyone_verified() {
        let mut policy = policy();
        assert_eq!(policy.admits(&identity("eve@evil.test", None)), None);
        policy.any_authenticated = true;
        assert_eq!(policy.admits(&identity("eve@evil.test", None)), Some("allow.authenticated"));
    }
}
