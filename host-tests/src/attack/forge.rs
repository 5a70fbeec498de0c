//! Tokens an attacker would send: valid ones to start from, and ones broken in exactly
//! one way (RFC 8725's list and the claim edge values), signed with the real test key
//! where the signature must not be what refuses them.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use wsgate_core::mint::{SigningKey, TestKeys, sign_rs256_raw};
use wsgate_fixtures::{GoogleClaims, patched};

pub use wsgate_fixtures::claims::{GOOGLE_ISSUER as GOOGLE, IAP_ISSUER as IAP};
pub use wsgate_fixtures::configs::{AUDIENCE, IAP_AUDIENCE};

/// Mints tokens relative to one clock reading.
pub struct Forge {
    pub now: u64,
}

impl Forge {
    /// Claims of a Google ID token for `email` that pass every check.
    pub fn claims(&self, email: &str) -> Value {
        GoogleClaims::id_token(email, AUDIENCE, self.now).issued_ago(10).build()
    }

    /// A valid RS256 ID token for `email`.
    pub fn id_token(&self, email: &str) -> String {
        self.signed(&self.claims(email))
    }

    /// `email`'s claims with `changes` applied (`null` removes a claim), signed.
    pub fn id_token_with(&self, email: &str, changes: Value) -> String {
        self.signed(&patched(self.claims(email), &changes))
    }

    pub fn signed(&self, claims: &Value) -> String {
        sign(&TestKeys::shared().rsa, claims)
    }

    /// Claims of an IAP assertion for `email` that pass every check.
    pub fn iap_claims(&self, email: &str) -> Value {
        GoogleClaims::iap_assertion(email, IAP_AUDIENCE, self.now).issued_ago(10).build()
    }

    /// An IAP assertion (ES256) for `email`, with `changes` applied.
    pub fn iap_assertion(&self, email: &str, changes: Value) -> String {
        sign(&TestKeys::shared().ec, &patched(self.iap_claims(email), &changes))
    }

    /// `header` and `payload` exactly as written, RS256-signed with the real key.
    pub fn raw(&self, header: &str, payload: &str) -> String {
        let SigningKey::Rs256(key) = &TestKeys::shared().rsa else { return String::new() };
        sign_rs256_raw(key, header, payload.as_bytes()).unwrap_or_default()
    }

    /// A raw token whose payload is `email`'s claims with `changes`, as JSON text.
    pub fn raw_claims(&self, email: &str, changes: Value) -> String {
        self.raw(r#"{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"#, &patched(self.claims(email), &changes).to_string())
    }

    /// Unsigned: `{"alg": alg}` and `email`'s claims, with `signature` as the third part.
    pub fn unsigned(&self, alg: &str, email: &str, signature: &str) -> String {
        let header = json!({"alg": alg, "kid": "rsa-1"}).to_string();
        format!("{}.{}.{signature}", b64(header.as_bytes()), b64(self.claims(email).to_string().as_bytes()))
    }

    /// HS256 over `email`'s claims keyed with the RSA public key's JWK text: the
    /// classic algorithm confusion.
    pub fn hs256_with_public_key(&self, email: &str) -> String {
        use jwt_simple::prelude::*;
        let secret = TestKeys::shared().rsa.public_jwk().to_string();
        let key = HS256Key::from_bytes(secret.as_bytes()).with_key_id("rsa-1");
        // Every claim in the custom part, as built: jwt-simple adds none of its own.
        let mut claims = Claims::with_custom_claims(self.claims(email), Duration::from_secs(0));
        (claims.issued_at, claims.expires_at, claims.invalid_before) = (None, None, None);
        key.authenticate(claims).unwrap_or_default()
    }

    /// Signed by a key that claims the real `kid` but is not the published key.
    pub fn rogue(&self, email: &str) -> String {
        sign(&TestKeys::shared().rogue_rsa, &self.claims(email))
    }
}

/// `token` with its payload replaced by `claims` (the signature no longer matches).
pub fn swap_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(claims.to_string().as_bytes()), parts.get(2).unwrap_or(&""))
}

/// `token` with standard base64 padding on every segment.
pub fn padded(token: &str) -> String {
    token.split('.').map(|part| {
        let bytes = URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
        STANDARD.encode(bytes).replace('+', "-").replace('/', "_")
    }).collect::<Vec<_>>().join(".")
}

/// `token` with the last character of its signature bumped: the same bytes in a
/// lenient decoder when only unused bits change, another signature otherwise.
pub fn noncanonical_signature(token: &str) -> String {
    let mut text = token.to_owned();
    let last = text.pop().unwrap_or('A');
    let bumped = match last { 'A' => 'B', 'Q' => 'R', 'g' => 'h', 'w' => 'x', other => other };
    text.push(if bumped == last { 'B' } else { bumped });
    text
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    key.sign(claims).unwrap_or_default()
}
