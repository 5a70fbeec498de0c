//! Tokens an attacker would send: valid ones to start from, and ones broken in exactly
//! one way (RFC 8725's list and the claim edge values), signed with the real test key
//! where the signature must not be what refuses them.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use wsgate_core::mint::{SigningKey, TestKeys, sign_rs256_raw};

pub const AUDIENCE: &str = "https://hello-abc123-uc.a.run.app";
pub const IAP_AUDIENCE: &str = "/projects/123/global/backendServices/456";
pub const GOOGLE: &str = "https://accounts.google.com";
pub const IAP: &str = "https://cloud.google.com/iap";

/// Mints tokens relative to one clock reading.
pub struct Forge {
    pub now: u64,
}

impl Forge {
    /// Claims of a Google ID token for `email` that pass every check.
    pub fn claims(&self, email: &str) -> Value {
        let hd = email.split_once('@').map_or("", |(_, d)| d);
        json!({
            "iss": GOOGLE, "aud": AUDIENCE, "sub": format!("sub-{email}"), "email": email,
            "email_verified": true, "hd": hd, "iat": self.now - 10, "exp": self.now + 3590,
        })
    }

    /// A valid RS256 ID token for `email`.
    pub fn id_token(&self, email: &str) -> String {
        self.signed(&self.claims(email))
    }

    /// `email`'s claims with `changes` applied (`null` removes a claim), signed.
    pub fn id_token_with(&self, email: &str, changes: Value) -> String {
        self.signed(&apply(self.claims(email), changes))
    }

    pub fn signed(&self, claims: &Value) -> String {
        sign(&TestKeys::shared().rsa, claims)
    }

    /// An IAP assertion (ES256) for `email`.
    pub fn iap_assertion(&self, email: &str, changes: Value) -> String {
        let claims = json!({
            "iss": IAP, "aud": IAP_AUDIENCE, "sub": format!("accounts.google.com:{email}"), "email": email,
            "hd": email.split_once('@').map_or("", |(_, d)| d), "iat": self.now - 10, "exp": self.now + 590,
        });
        sign(&TestKeys::shared().ec, &apply(claims, changes))
    }

    /// `header` and `payload` exactly as written, RS256-signed with the real key.
    pub fn raw(&self, header: &str, payload: &str) -> String {
        let SigningKey::Rs256(key) = &TestKeys::shared().rsa else { return String::new() };
        sign_rs256_raw(key, header, payload.as_bytes()).unwrap_or_default()
    }

    /// A raw token whose payload is `email`'s claims with `changes`, as JSON text.
    pub fn raw_claims(&self, email: &str, changes: Value) -> String {
        self.raw(r#"{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"#, &apply(self.claims(email), changes).to_string())
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
        let mut claims = Claims::with_custom_claims(json!({"email": email, "email_verified": true, "hd": "example.com"}), Duration::from_secs(3590));
        claims.issuer = Some(GOOGLE.to_owned());
        claims.subject = Some(format!("sub-{email}"));
        claims.audiences = Some(Audiences::AsString(AUDIENCE.to_owned()));
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

fn apply(mut claims: Value, changes: Value) -> Value {
    if let (Some(target), Value::Object(changes)) = (claims.as_object_mut(), changes) {
        for (name, value) in changes {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
    claims
}
