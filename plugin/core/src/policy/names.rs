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
