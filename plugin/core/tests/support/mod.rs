//! Fixtures shared by the core's tests: a config trusting the test keys, claims that
//! pass every check, and a fixed clock far in the future so nothing ever rots.
#![allow(dead_code)]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wsgate_core::mint::TestKeys;
use wsgate_core::{Gate, Settings};

/// 2030-03-17; every fixture time is relative to it.
pub const NOW: u64 = 1_900_000_000;

/// The gate's clock is Unix milliseconds; token times are seconds.
pub fn ms(seconds: u64) -> u64 {
    seconds * 1000
}
pub const AUDIENCE: &str = "https://hello-abc123-uc.a.run.app";
pub const GOOGLE: &str = "https://accounts.google.com";
pub const IAP: &str = "https://cloud.google.com/iap";
pub const IAP_AUDIENCE: &str = "/projects/123/global/backendServices/456";

/// A config with a Google provider (RS256, hd example.com) and an IAP provider (ES256).
pub fn config() -> Value {
    let jwks = TestKeys::shared().jwks();
    json!({
        "providers": [
            {
                "name": "google",
                "issuers": [GOOGLE, "accounts.google.com"],
                "audiences": [AUDIENCE],
                "local_jwks": jwks,
                "algorithms": ["RS256"],
                "allowed_domains": ["example.com"]
            },
            {
                "name": "iap",
                "issuers": [IAP],
                "audiences": [IAP_AUDIENCE],
                "local_jwks": jwks,
                "algorithms": ["ES256"],
                "require_email_verified": false
            }
        ],
        "policy": {
            "public_paths": ["/healthz"],
            "allow": {"domains": ["example.com"], "users": ["partner@other.test"]}
        },
        "token_sources": [
            {"header": "authorization", "prefix": "Bearer "},
            {"header": "x-serverless-authorization", "prefix": "Bearer "},
            {"header": "x-goog-iap-jwt-assertion"},
            {"cookie": "wsgate_token"}
        ]
    })
}

pub fn settings(config: &Value) -> Settings {
    Settings::from_json(config.to_string().as_bytes()).unwrap()
}

pub fn gate() -> Gate {
    Gate::new(settings(&config()))
}

/// The claims of a good Google ID token for alice@example.com.
pub fn google_claims() -> Value {
    json!({
        "iss": GOOGLE,
        "aud": AUDIENCE,
        "azp": "1234.apps.googleusercontent.com",
        "sub": "110000000000000000001",
        "email": "alice@example.com",
        "email_verified": true,
        "hd": "example.com",
        "iat": NOW - 60,
        "exp": NOW + 3540
    })
}

/// The claims of a good IAP assertion (no `email_verified`: IAP does not send it).
pub fn iap_claims() -> Value {
    json!({
        "iss": IAP,
        "aud": IAP_AUDIENCE,
        "sub": "accounts.google.com:110000000000000000001",
        "email": "alice@example.com",
        "hd": "example.com",
        "iat": NOW - 10,
        "exp": NOW + 590
    })
}

/// `google_claims` with the given fields replaced (`null` removes one).
pub fn google_with(changes: Value) -> Value {
    let mut claims = google_claims();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

pub fn rsa_token(claims: &Value) -> String {
    TestKeys::shared().rsa.sign(claims).unwrap()
}

pub fn es_token(claims: &Value) -> String {
    TestKeys::shared().ec.sign(claims).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header and payload and a made-up signature.
pub fn forged(header: &Value, payload: &Value, signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()), b64(signature))
}
