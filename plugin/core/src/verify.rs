//! Verifies a compact JWT against the configured providers and yields the caller's
//! identity, or the one reason it is refused.
//!
//! Order matters: cheap structural checks first (so a 100 KiB blob costs a length
//! compare), then the issuer picks the provider and the `kid` its key, then the
//! signature, and only then the claims: a claim of an unverified token is never the
//! reason we report.

use crate::config::Algorithm;
use crate::jwks::{KeySet, VerifyingKey};
use crate::provider::{GoogleClaims, Provider};
use crate::policy::names::{canonical_domain, canonical_email};
use crate::reason::Reason;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::*;
use jwt_simple::JWTError;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// Who the caller is, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Index of the provider that accepted the token.
    pub provider: usize,
    pub subject: String,
    pub email: Option<String>,
    /// The Workspace domain (`hd`); absent for consumer accounts and most service accounts.
    pub domain: Option<String>,
    /// Group emails from the provider's groups claim; strings only, others ignored.
    pub groups: Vec<String>,
    /// `exp`, in Unix seconds.
    pub expires_at: u64,
}

/// Why a token was refused, and by which provider once its issuer named one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    pub provider: Option<usize>,
}

/// All providers, indexed by issuer.
#[derive(Debug)]
pub struct Verifier {
    providers: Vec<Provider>,
    by_issuer: HashMap<String, usize>,
    max_token_bytes: usize,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    #[serde(default)]
    iss: Option<String>,
}

impl Verifier {
    /// Issuers must be unique across providers; `settings` checks that.
    pub fn new(providers: Vec<Provider>, max_token_bytes: usize) -> Self {
        let by_issuer = providers
            .iter()
            .enumerate()
            .flat_map(|(index, p)| p.issuers.iter().map(move |iss| (iss.clone(), index)))
            .collect();
        Self { providers, by_issuer, max_token_bytes }
    }

    pub fn provider(&self, index: usize) -> Option<&Provider> {
        self.providers.get(index)
    }

    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// Replaces a remote provider's keys (an empty set: none usable).
    pub fn install_keys(&mut self, index: usize, keys: KeySet) {
        if let Some(provider) = self.providers.get_mut(index) {
            provider.keys = keys;
        }
    }

    /// Verifies `token` (raw header bytes, possibly not UTF-8) at `now` (Unix seconds).
    pub fn verify(&self, token: &[u8], now: u64) -> Result<Identity, Reason> {
        self.check(token, now).map_err(|rejection| rejection.reason)
    }

    /// Like [`Verifier::verify`], saying which provider refused.
    pub fn check(&self, token: &[u8], now: u64) -> Result<Identity, Rejection> {
        let anonymous = |reason| Rejection { reason, provider: None };
        if token.len() > self.max_token_bytes {
            return Err(anonymous(Reason::TokenTooLarge));
        }
        let (token, header_b64, payload_b64) = split_compact(token).map_err(anonymous)?;
        let header: Header = decode_segment(header_b64).map_err(anonymous)?;
        // Members the verifier ignores must still be JSON every parser reads alike: a
        // lone surrogate escape (`"\ud800"`) is refused by some and not by others.
        decode_segment::<serde_json::Map<String, serde_json::Value>>(header_b64).map_err(anonymous)?;
        let algorithm = parse_algorithm(&header.alg).map_err(anonymous)?;
        let issuer = decode_segment::<UnverifiedIssuer>(payload_b64).map_err(anonymous)?.iss;
        let index = *issuer
            .and_then(|iss| self.by_issuer.get(&iss))
            .ok_or(anonymous(Reason::IssuerNotAllowed))?;
        let provider = &self.providers[index];
        let by_provider = |reason| Rejection { reason, provider: Some(index) };
        let key = provider.key_for(algorithm, header.kid.as_deref()).map_err(by_provider)?;
        let claims = verify_signature(key, token, provider.clock_skew, now).map_err(by_provider)?;
        provider.check_claims(&claims, now).map_err(by_provider)?;
        Ok(identity(index, &provider.groups_claim, claims))
    }
}

/// Checks the token is ASCII base64url in exactly three segments and returns it with
/// its header and payload segments.
fn split_compact(token: &[u8]) -> Result<(&str, &str, &str), Reason> {
    let token = std::str::from_utf8(token).map_err(|_| Reason::MalformedToken)?;
    let well_formed_chars = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let mut segments = token.split('.');
    match (segments.next(), segments.next(), segments.next(), segments.next()) {
        // The signature must be canonical base64url: with a lenient decoder, unused
        // trailing bits would let one signature be written several ways.
        (Some(header), Some(payload), Some(signature), None)
            if well_formed_chars && !header.is_empty() && !payload.is_empty() && URL_SAFE_NO_PAD.decode(signature).is_ok_and(|s| !s.is_empty()) =>
        {
            Ok((token, header, payload))
        }
        _ => Err(Reason::MalformedToken),
    }
}

fn decode_segment<T: DeserializeOwned>(segment: &str) -> Result<T, Reason> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| Reason::MalformedToken)?;
    serde_json::from_slice(&bytes).map_err(|_| Reason::MalformedToken)
}

/// `none` and the HMAC family are refused here, before any key is looked at: an
/// HS256 token "signed" with a public key must never reach a verifier.
fn parse_algorithm(alg: &str) -> Result<Algorithm, Reason> {
    match alg {
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        _ => Err(Reason::AlgorithmNotAllowed),
    }
}

fn verify_signature(
    key: &VerifyingKey,
    token: &str,
    clock_skew: u64,
    now: u64,
) -> Result<JWTClaims<GoogleClaims>, Reason> {
    // nbf and iat are checked by the provider, with reason codes of their own; the
    // size limit is ours too.
    let options = VerificationOptions {
        accept_future: true,
        time_tolerance: Some(Duration::from_secs(clock_skew)),
        artificial_time: Some(Duration::from_secs(now)),
        max_token_length: None,
        ..Default::default()
    };
    match key {
        VerifyingKey::Rs256(key) => key.verify_token::<GoogleClaims>(token, Some(options)),
        VerifyingKey::Es256(key) => key.verify_token::<GoogleClaims>(token, Some(options)),
    }
    .map_err(|error| reason_for(&error))
}

fn reason_for(error: &jwt_simple::Error) -> Reason {
    match error.downcast_ref::<JWTError>() {
        Some(JWTError::TokenHasExpired) => Reason::TokenExpired,
        Some(JWTError::AlgorithmMismatch) => Reason::AlgorithmKeyMismatch,
        Some(
            JWTError::CompactEncodingError
            | JWTError::HeaderTooLarge
            | JWTError::NotJWT
            | JWTError::UnknownCriticalExtension,
        ) => Reason::MalformedToken,
        // Whatever else the verifier says, the token did not prove who signed it.
        Some(_) => Reason::BadSignature,
        // Not a JWT error: base64 or JSON that would not decode.
        None => Reason::MalformedToken,
    }
}

fn identity(provider: usize, groups_claim: &str, mut claims: JWTClaims<GoogleClaims>) -> Identity {
    let groups = match claims.custom.other.remove(groups_claim) {
        Some(serde_json::Value::Array(values)) => values.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    Identity {
        provider,
        groups,
        subject: claims.subject.unwrap_or_default(),
        email: claims.custom.email.as_deref().map(canonical_email),
        domain: claims.custom.hd.as_deref().map(canonical_domain),
        expires_at: claims.expires_at.map_or(0, |exp| exp.as_secs()),
    }
}
