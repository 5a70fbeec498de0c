//! A token issuer as the gate runs it: its keys, and the claim checks its tokens must
//! pass once their signature holds.

use crate::config::Algorithm;
use crate::jwks::{KeySet, VerifyingKey};
use crate::key_refresh::RemoteJwks;
use crate::policy::names::canonical_domain;
use crate::reason::Reason;
use jwt_simple::prelude::JWTClaims;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use std::rc::Rc;

/// A validated provider.
#[derive(Debug)]
pub struct Provider {
    pub name: Rc<str>,
    pub issuers: Vec<String>,
    pub audiences: HashSet<String>,
    /// For a remote provider: empty until fetched, and emptied again when the keys
    /// are stale beyond the bound.
    pub keys: KeySet,
    /// Where the keys are fetched from; `None` for configured keys.
    pub remote: Option<RemoteJwks>,
    pub algorithms: Vec<Algorithm>,
    pub clock_skew: u64,
    pub max_lifetime: u64,
    /// Lower-cased; empty accepts any domain.
    pub allowed_domains: HashSet<String>,
    pub require_email_verified: bool,
    /// Empty accepts any `azp`.
    pub allowed_azp: HashSet<String>,
    /// The claim listing the caller's groups.
    pub groups_claim: String,
    /// False for issuers whose tokens name no subject (Chat's project-number tokens).
    pub require_subject: bool,
}

/// The Google-specific claims the gate reads; all others are ignored.
#[derive(Debug, Deserialize)]
pub struct GoogleClaims {
    #[serde(default)]
    pub email: Option<String>,
    /// A boolean in ID tokens, but some older Google tokens send the string "true".
    #[serde(default)]
    pub email_verified: Option<Value>,
    #[serde(default)]
    pub hd: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    /// Every other claim; the provider's `groups_claim` is read from here.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

impl Provider {
    /// The key that may verify a token with this header, or why there is none.
    pub fn key_for(&self, algorithm: Algorithm, kid: Option<&str>) -> Result<&VerifyingKey, Reason> {
        if !self.algorithms.contains(&algorithm) {
            return Err(Reason::AlgorithmNotAllowed);
        }
        let kid = kid.ok_or(Reason::MissingKeyId)?;
        if self.keys.is_empty() && self.remote.is_some() {
            return Err(Reason::KeysUnavailable);
        }
        let key = self.keys.get(kid).ok_or(Reason::UnknownKeyId)?;
        if key.algorithm() != algorithm {
            return Err(Reason::AlgorithmKeyMismatch);
        }
        Ok(key)
    }

    /// Checks a signature-verified token's claims at `now` (Unix seconds). Expiry
    /// itself is checked during signature verification, with the same skew.
    pub fn check_claims(&self, claims: &JWTClaims<GoogleClaims>, now: u64) -> Result<(), Reason> {
        self.check_times(claims, now)?;
        if self.require_subject && claims.subject.as_deref().is_none_or(str::is_empty) {
            return Err(Reason::MissingSubject);
        }
        self.check_audience(claims)?;
        self.check_domain(&claims.custom)?;
        self.check_email_verified(&claims.custom)?;
        self.check_azp(&claims.custom)
    }

    fn check_times(&self, claims: &JWTClaims<GoogleClaims>, now: u64) -> Result<(), Reason> {
        let expires = claims.expires_at.ok_or(Reason::MissingExpiry)?.as_secs();
        let issued = claims.issued_at.ok_or(Reason::MissingIssuedAt)?.as_secs();
        let latest_acceptable = now.saturating_add(self.clock_skew);
        if issued > latest_acceptable {
            return Err(Reason::IssuedInFuture);
        }
        if claims.invalid_before.is_some_and(|nbf| nbf.as_secs() > latest_acceptable) {
            return Err(Reason::TokenNotYetValid);
        }
        if expires.saturating_sub(issued) > self.max_lifetime {
            return Err(Reason::LifetimeTooLong);
        }
        Ok(())
    }

    fn check_audience(&self, claims: &JWTClaims<GoogleClaims>) -> Result<(), Reason> {
        match &claims.audiences {
            Some(audiences) if audiences.contains(&self.audiences) => Ok(()),
            _ => Err(Reason::AudienceNotAllowed),
        }
    }

    fn check_domain(&self, claims: &GoogleClaims) -> Result<(), Reason> {
        if self.allowed_domains.is_empty() {
            return Ok(());
        }
        match &claims.hd {
            Some(hd) if self.allowed_domains.contains(&canonical_domain(hd)) => Ok(()),
            _ => Err(Reason::DomainNotAllowed),
        }
    }

    fn check_email_verified(&self, claims: &GoogleClaims) -> Result<(), Reason> {
        if !self.require_email_verified || claims.email.is_none() {
            return Ok(());
        }
        match &claims.email_verified {
            Some(Value::Bool(true)) => Ok(()),
            Some(Value::String(text)) if text == "true" => Ok(()),
            _ => Err(Reason::EmailNotVerified),
        }
    }

    fn check_azp(&self, claims: &GoogleClaims) -> Result<(), Reason> {
        if self.allowed_azp.is_empty() {
            return Ok(());
        }
        match &claims.azp {
            Some(azp) if self.allowed_azp.contains(azp) => Ok(()),
            _ => Err(Reason::AuthorizedPartyNotAllowed),
        }
    }
}
