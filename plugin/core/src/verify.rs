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
use jwt_simple::prelude::{Audiences, JWTClaims};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// The longest header segment accepted, in base64url characters (jwt-simple's limit).
const MAX_HEADER_SEGMENT: usize = 8192;

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
    /// `iss`, as the token says it.
    pub issuer: String,
    /// `aud`, one entry per audience.
    pub audiences: Vec<String>,
    /// `azp`: the OAuth client the token was issued to.
    pub authorized_party: Option<String>,
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

/// The JOSE header members RFC 7515 defines, each with the type it must have: a token
/// whose header misuses one is malformed. Only `typ`, `crit` and `salt` are acted on.
#[derive(Deserialize)]
struct JoseHeader {
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<Vec<String>>,
    #[serde(default)]
    salt: Option<String>,
    #[serde(default, rename = "cty")]
    _cty: Option<String>,
    #[serde(default, rename = "x5c")]
    _x5c: Option<Vec<String>>,
    #[serde(default, rename = "jku")]
    _jku: Option<String>,
    #[serde(default, rename = "jwk")]
    _jwk: Option<String>,
    #[serde(default, rename = "x5u")]
    _x5u: Option<String>,
    #[serde(default, rename = "x5t")]
    _x5t: Option<String>,
    #[serde(default, rename = "x5t#S256")]
    _x5t_s256: Option<String>,
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
        let compact = split_compact(token).map_err(anonymous)?;
        let header: Header = decode_segment(compact.header).map_err(anonymous)?;
        // Members the verifier ignores must still be JSON every parser reads alike: a
        // lone surrogate escape (`"\ud800"`) is refused by some and not by others.
        decode_segment::<serde_json::Map<String, serde_json::Value>>(compact.header).map_err(anonymous)?;
        let algorithm = parse_algorithm(&header.alg).map_err(anonymous)?;
        let issuer = decode_segment::<UnverifiedIssuer>(compact.payload).map_err(anonymous)?.iss;
        let index = *issuer
            .and_then(|iss| self.by_issuer.get(&iss))
            .ok_or(anonymous(Reason::IssuerNotAllowed))?;
        let provider = &self.providers[index];
        let by_provider = |reason| Rejection { reason, provider: Some(index) };
        let key = provider.key_for(algorithm, header.kid.as_deref()).map_err(by_provider)?;
        let claims = verify_signature(key, &compact, provider.clock_skew, now).map_err(by_provider)?;
        provider.check_claims(&claims, now).map_err(by_provider)?;
        Ok(identity(index, &provider.groups_claim, claims))
    }
}

/// Checks the token is ASCII base64url in exactly three segments.
fn split_compact(token: &[u8]) -> Result<Compact<'_>, Reason> {
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
            Ok(Compact { header, payload, signature, signing_input: &token[..header.len() + 1 + payload.len()] })
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

/// The token's segments, as `split_compact` checked them.
struct Compact<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// What the signature covers: `header.payload`, as the token spells it.
    signing_input: &'a str,
}

/// The header's own rules, the signature, then the claims and expiry (`exp` with
/// the provider's skew; `nbf` and `iat` are the provider's, with reason codes of
/// their own).
fn verify_signature(key: &VerifyingKey, token: &Compact<'_>, clock_skew: u64, now: u64) -> Result<JWTClaims<GoogleClaims>, Reason> {
    check_header(token.header)?;
    let signature = URL_SAFE_NO_PAD.decode(token.signature).map_err(|_| Reason::MalformedToken)?;
    if !key.verify(token.signing_input.as_bytes(), &signature) {
        return Err(Reason::BadSignature);
    }
    let claims: JWTClaims<GoogleClaims> = decode_segment(token.payload)?;
    let expired = claims.expires_at.is_some_and(|exp| now.checked_sub(clock_skew).is_none_or(|earliest| earliest > exp.as_secs()));
    if expired {
        return Err(Reason::TokenExpired);
    }
    Ok(claims)
}

/// A header with critical extensions (we implement none), a `typ` that is not a JWT,
/// or a member of the wrong type is malformed.
fn check_header(header: &str) -> Result<(), Reason> {
    if header.len() > MAX_HEADER_SEGMENT {
        return Err(Reason::MalformedToken);
    }
    let header: JoseHeader = decode_segment(header)?;
    let critical = header.crit.is_some_and(|crit| !crit.is_empty());
    let not_a_jwt = header.typ.is_some_and(|typ| {
        let typ = typ.to_uppercase();
        typ != "JWT" && !typ.ends_with("+JWT")
    });
    let bad_salt = header.salt.is_some_and(|salt| URL_SAFE_NO_PAD.decode(salt).is_err());
    if critical || not_a_jwt || bad_salt { Err(Reason::MalformedToken) } else { Ok(()) }
}

fn identity(provider: usize, groups_claim: &str, mut claims: JWTClaims<GoogleClaims>) -> Identity {
    let groups = match claims.custom.other.remove(groups_claim) {
        Some(serde_json::Value::Array(values)) => values.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    let audiences = match claims.audiences.take() {
        Some(Audiences::AsString(one)) => vec![one],
        Some(Audiences::AsSet(set)) => set.into_iter().collect(),
        None => Vec::new(),
    };
    let issuer = claims.issuer.take().unwrap_or_default();
    // A provider that needs no `sub` (Chat's project-number tokens) names its tokens
    // by their issuer: the signer is who vouches for them.
    let subject = claims.subject.take().filter(|sub| !sub.is_empty()).unwrap_or_else(|| issuer.clone());
    Identity {
        provider,
        groups,
        subject,
        issuer,
        audiences,
        authorized_party: claims.custom.azp.take(),
        email: claims.custom.email.as_deref().map(canonical_email),
        domain: claims.custom.hd.as_deref().map(canonical_domain),
        expires_at: claims.expires_at.map_or(0, |exp| exp.as_secs()),
    }
}
