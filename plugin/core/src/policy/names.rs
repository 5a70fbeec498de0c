//! Emails and domains in the one form rules, tokens and the service see them.

/// An email as rules compare it: ASCII lower case, the domain without a trailing dot
/// (`Alice@Example.COM.` is `alice@example.com`, as mail and DNS read it).
pub fn canonical_email(email: &str) -> String {
    let lower = email.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some(trimmed) if trimmed.contains('@') => trimmed.to_owned(),
        _ => lower,
    }
}

/// A domain as rules compare it and as the service receives it: ASCII lower case,
/// without a trailing dot.
pub fn canonical_domain(domain: &str) -> String {
    let lower = domain.to_ascii_lowercase();
    lower.strip_suffix('.').map_or(lower.clone(), str::to_owned)
}

/// A service account as rules and callers name it: one email, or every account of a
/// project (`*@project.iam.gserviceaccount.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountPattern {
    /// Canonical.
    Exact(String),
    /// The part after `*`, `@` included, lower case.
    Suffix(String),
}

impl AccountPattern {
    /// The pattern `text` writes, or the message saying why it is none.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('@') && suffix.len() > 1 && !suffix[1..].contains(['*', '@']) => Ok(AccountPattern::Suffix(suffix.to_ascii_lowercase())),
            None if text.contains('@') && !text.contains('*') => Ok(AccountPattern::Exact(canonical_email(text))),
            _ => Err(format!("`{text}` must be an email or `*@project.iam.gserviceaccount.com`")),
        }
    }

    /// Whether canonical `email` is this account, or one of this project's.
    pub fn matches(&self, email: &str) -> bool {
        match self {
            AccountPattern::Exact(exact) => exact == email,
            AccountPattern::Suffix(suffix) => email.ends_with(suffix.as_str()),
        }
    }
}

/// Letters, digits, `.`, `_`, `-`: the names of rules and callers, which appear in
/// metric names, log lines and headers.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
