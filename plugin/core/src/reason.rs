//! Why a request was let through or refused: one stable code per outcome, shared by
//! the decision log, the metrics and the response body.
//!
//! Codes are part of the public interface (dashboards and alerts key on them):
//! add new ones, never rename or reuse old ones.

/// The reason behind every decision the gate makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A verified caller admitted by the policy.
    Allowed,
    /// The path is public: no token was needed or checked.
    PublicPath,

    // --- 401: no acceptable credential ------------------------------------------
    /// No token in any configured source.
    MissingToken,
    /// Larger than `max_token_bytes`; refused before any parsing.
    TokenTooLarge,
    /// Not three base64url segments, bad base64, non-JSON header or payload, non-ASCII.
    MalformedToken,
    /// `alg` is `none`, HMAC, or not in the provider's `algorithms`.
    AlgorithmNotAllowed,
    /// The token's header names no `kid`.
    MissingKeyId,
    /// No key of the provider has the token's `kid`.
    UnknownKeyId,
    /// The key named by `kid` is of another type than the token's `alg`.
    AlgorithmKeyMismatch,
    /// The signature does not verify with the provider's key.
    BadSignature,
    /// No provider accepts the token's `iss`.
    IssuerNotAllowed,
    /// None of the token's `aud` values is configured.
    AudienceNotAllowed,
    /// `exp` (plus clock skew) is in the past.
    TokenExpired,
    /// `nbf` is in the future beyond the clock skew.
    TokenNotYetValid,
    /// `iat` is in the future beyond the clock skew.
    IssuedInFuture,
    /// The token carries no `exp`.
    MissingExpiry,
    /// The token carries no `iat`, so its lifetime cannot be bounded.
    MissingIssuedAt,
    /// The token carries no `sub` (or an empty one): there is no one to vouch for.
    MissingSubject,
    /// `exp - iat` exceeds the provider's `max_lifetime_seconds`.
    LifetimeTooLong,
    /// The Workspace domain (`hd`) is missing or not in the provider's `allowed_domains`.
    DomainNotAllowed,
    /// The token has an email whose `email_verified` is not true.
    EmailNotVerified,
    /// `azp` is missing or not in the provider's `allowed_azp`.
    AuthorizedPartyNotAllowed,

    /// The provider's keys are fetched from an endpoint, and none are usable: not
    /// fetched yet, or stale beyond `stale_if_error_seconds`. 503 unless the provider
    /// sets `unavailable_status: 401`.
    KeysUnavailable,
    /// A caller that acts for a user (`callers[].on_behalf_of`) sent no user token in
    /// its body (`authorizationEventObject.userIdToken`), or a body that is not JSON.
    UserTokenMissing,
    /// The user token verified but does not belong with its carrier: another
    /// project's OAuth client, an audience `on_behalf_of` does not list, or itself a
    /// named caller's token.
    UserTokenMismatch,

    // --- 403: authenticated, not admitted ---------------------------------------
    /// A verified caller that no rule admits (the default denied).
    NotAllowed,
    /// A verified caller refused by a deny rule.
    DeniedByRule,
    /// The decision depends on a Workspace group whose live lookup failed (or timed
    /// out) with no answer within `stale_if_error_seconds`: refused, 403 unless
    /// `group_lookup.on_failure` is `unavailable` (503).
    GroupsUnavailable,

    // --- others -------------------------------------------------------------------
    /// 400: a path the upstream might read as another (`/a/../admin`, `%2e`): no rule
    /// can be trusted to match it.
    AmbiguousPath,
    /// 400: the `:authority` is not a host name, IPv4 or bracketed IPv6 address with an
    /// optional port (`h..`, `u@h`, `h:1:`): hops disagree about which host it names.
    AmbiguousHost,
    /// 400 (RFC 6750 `invalid_request`): a token source holds more than one token —
    /// a repeated `Authorization` header, a token cookie set twice — and upstreams
    /// disagree about which one counts.
    AmbiguousToken,
    /// 413: the body of a request whose user token rides in it is larger than
    /// `on_behalf_of.max_body_bytes`.
    BodyTooLarge,
    /// The policy is in dry-run: the request would have been refused (the log says
    /// why) but was let through.
    DryRun,

    // --- browser sign-in (`sign_in`) ------------------------------------------------
    /// 302: a browser's navigation without a session, sent to Google to sign in.
    SignInStarted,
    /// 302: the sign-in callback verified the person and set the session; the browser
    /// goes back where it started.
    SignedIn,
    /// 302: the session was cleared at the sign-out path.
    SignedOut,
    /// 400: a sign-in callback without `code` and `state`, or whose `state` matches no
    /// sign-in this browser started (expired, tampered, or another browser's).
    SignInStateInvalid,
    /// 401: Google answered the sign-in with an error (the person cancelled, or the
    /// client is not allowed).
    SignInCancelled,
    /// 502: the token endpoint did not exchange the code: no answer, an error, or an
    /// answer without an ID token.
    SignInExchangeFailed,
    /// 401: the ID token verified but is not this sign-in's: another `nonce`, another
    /// client, another provider, or not the hosted domain.
    SignInTokenMismatch,
}

impl Reason {
    /// Every reason, for defining metrics up front and for documentation tests.
    pub const ALL: [Reason; 40] = [
        Reason::Allowed,
        Reason::PublicPath,
        Reason::MissingToken,
        Reason::TokenTooLarge,
        Reason::MalformedToken,
        Reason::AlgorithmNotAllowed,
        Reason::MissingKeyId,
        Reason::UnknownKeyId,
        Reason::AlgorithmKeyMismatch,
        Reason::BadSignature,
        Reason::IssuerNotAllowed,
        Reason::AudienceNotAllowed,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::IssuedInFuture,
        Reason::MissingExpiry,
        Reason::MissingIssuedAt,
        Reason::MissingSubject,
        Reason::LifetimeTooLong,
        Reason::DomainNotAllowed,
        Reason::EmailNotVerified,
        Reason::AuthorizedPartyNotAllowed,
        Reason::KeysUnavailable,
        Reason::UserTokenMissing,
        Reason::UserTokenMismatch,
        Reason::GroupsUnavailable,
        Reason::NotAllowed,
        Reason::DeniedByRule,
        Reason::AmbiguousPath,
        Reason::AmbiguousHost,
        Reason::AmbiguousToken,
        Reason::BodyTooLarge,
        Reason::DryRun,
        Reason::SignInStarted,
        Reason::SignedIn,
        Reason::SignedOut,
        Reason::SignInStateInvalid,
        Reason::SignInCancelled,
        Reason::SignInExchangeFailed,
        Reason::SignInTokenMismatch,
    ];

    /// The stable, snake_case code used in logs, metrics and response bodies.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::PublicPath => "public_path",
            Reason::MissingToken => "missing_token",
            Reason::TokenTooLarge => "token_too_large",
            Reason::MalformedToken => "malformed_token",
            Reason::AlgorithmNotAllowed => "algorithm_not_allowed",
            Reason::MissingKeyId => "missing_kid",
            Reason::UnknownKeyId => "unknown_kid",
            Reason::AlgorithmKeyMismatch => "algorithm_key_mismatch",
            Reason::BadSignature => "bad_signature",
            Reason::IssuerNotAllowed => "issuer_not_allowed",
            Reason::AudienceNotAllowed => "audience_not_allowed",
            Reason::TokenExpired => "token_expired",
            Reason::TokenNotYetValid => "token_not_yet_valid",
            Reason::IssuedInFuture => "issued_in_future",
            Reason::MissingExpiry => "missing_exp",
            Reason::MissingIssuedAt => "missing_iat",
            Reason::MissingSubject => "missing_sub",
            Reason::LifetimeTooLong => "lifetime_too_long",
            Reason::DomainNotAllowed => "domain_not_allowed",
            Reason::EmailNotVerified => "email_not_verified",
            Reason::AuthorizedPartyNotAllowed => "azp_not_allowed",
            Reason::KeysUnavailable => "keys_unavailable",
            Reason::UserTokenMissing => "user_token_missing",
            Reason::UserTokenMismatch => "user_token_mismatch",
            Reason::BodyTooLarge => "body_too_large",
            Reason::GroupsUnavailable => "groups_unavailable",
            Reason::NotAllowed => "not_allowed",
            Reason::DeniedByRule => "denied_by_rule",
            Reason::AmbiguousPath => "ambiguous_path",
            Reason::AmbiguousHost => "ambiguous_host",
            Reason::AmbiguousToken => "ambiguous_token",
            Reason::DryRun => "dry_run",
            Reason::SignInStarted => "sign_in_started",
            Reason::SignedIn => "signed_in",
            Reason::SignedOut => "signed_out",
            Reason::SignInStateInvalid => "sign_in_state_invalid",
            Reason::SignInCancelled => "sign_in_cancelled",
            Reason::SignInExchangeFailed => "sign_in_exchange_failed",
            Reason::SignInTokenMismatch => "sign_in_token_mismatch",
        }
    }

    /// The HTTP status a refusal with this reason gets; 200 for the two admitting reasons.
    pub fn status(self) -> u16 {
        match self {
            Reason::Allowed | Reason::PublicPath | Reason::DryRun => 200,
            Reason::NotAllowed | Reason::DeniedByRule | Reason::GroupsUnavailable => 403,
            Reason::KeysUnavailable => 503,
            Reason::AmbiguousPath | Reason::AmbiguousHost | Reason::AmbiguousToken => 400,
            Reason::BodyTooLarge => 413,
            Reason::SignInStarted | Reason::SignedIn | Reason::SignedOut => 302,
            Reason::SignInStateInvalid => 400,
            Reason::SignInExchangeFailed => 502,
            _ => 401,
        }
    }

    /// Whether this reason lets the request through.
    pub fn admits(self) -> bool {
        matches!(self, Reason::Allowed | Reason::PublicPath | Reason::DryRun)
    }

    /// A short human text for RFC 6750's `error_description`. It must stay within the
    /// characters RFC 6750 allows there (printable ASCII without `"` and `\`), and it
    /// never names keys, issuers or anything else from the configuration.
    pub fn description(self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::PublicPath => "public path",
            Reason::MissingToken => "no token was sent",
            Reason::TokenTooLarge => "the token is too large",
            Reason::MalformedToken => "the token is not a well-formed JWT",
            Reason::AlgorithmNotAllowed => "the token's signing algorithm is not accepted",
            Reason::MissingKeyId => "the token names no signing key",
            Reason::UnknownKeyId => "the token's signing key is not known",
            Reason::AlgorithmKeyMismatch => "the token's algorithm does not match its key",
            Reason::BadSignature => "the token's signature is invalid",
            Reason::IssuerNotAllowed => "the token's issuer is not accepted",
            Reason::AudienceNotAllowed => "the token is not meant for this service",
            Reason::TokenExpired => "the token has expired",
            Reason::TokenNotYetValid => "the token is not valid yet",
            Reason::IssuedInFuture => "the token is issued in the future",
            Reason::MissingExpiry => "the token has no expiry",
            Reason::MissingIssuedAt => "the token has no issue time",
            Reason::MissingSubject => "the token has no subject",
            Reason::LifetimeTooLong => "the token's lifetime is too long",
            Reason::DomainNotAllowed => "the token's Workspace domain is not accepted",
            Reason::EmailNotVerified => "the token's email is not verified",
            Reason::AuthorizedPartyNotAllowed => "the token's authorized party is not accepted",
            Reason::KeysUnavailable => "the keys to verify the token are not available",
            Reason::UserTokenMissing => "the request carries no user token for its caller",
            Reason::UserTokenMismatch => "the user token does not belong with its caller",
            Reason::BodyTooLarge => "the request body is too large to find its user token in",
            Reason::GroupsUnavailable => "the caller's group membership could not be checked",
            Reason::NotAllowed => "the caller is not allowed",
            Reason::DeniedByRule => "the caller is denied by a rule",
            Reason::AmbiguousPath => "the path is ambiguous",
            Reason::AmbiguousHost => "the host is ambiguous",
            Reason::AmbiguousToken => "the request carries more than one token",
            Reason::DryRun => "dry run",
            Reason::SignInStarted => "sign in with Google",
            Reason::SignedIn => "signed in",
            Reason::SignedOut => "signed out",
            Reason::SignInStateInvalid => "the sign-in is not one this browser started, or it expired",
            Reason::SignInCancelled => "the sign-in was cancelled",
            Reason::SignInExchangeFailed => "the sign-in could not be completed with Google",
            Reason::SignInTokenMismatch => "the sign-in's ID token is not this sign-in's",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header_syntax::is_quotable_byte;
    use std::collections::HashSet;

    #[test]
    fn every_code_is_unique_and_snake_case() {
        let codes: HashSet<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), Reason::ALL.len());
        for code in codes {
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
        }
    }

    #[test]
    fn descriptions_stay_within_rfc6750_error_description_characters() {
        for reason in Reason::ALL {
            let text = reason.description();
            assert!(
                text.bytes().all(is_quotable_byte),
                "{text}"
            );
        }
    }

    #[test]
    fn only_allowed_public_path_and_dry_run_admit() {
        let admitting: Vec<_> = Reason::ALL.into_iter().filter(|r| r.admits()).collect();
        assert_eq!(admitting, [Reason::Allowed, Reason::PublicPath, Reason::DryRun]);
        assert_eq!(Reason::NotAllowed.status(), 403);
        assert_eq!(Reason::BadSignature.status(), 401);
    }
}
