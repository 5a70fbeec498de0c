//! Fixtures shared by the core's tests: a config trusting the test keys, claims that
//! pass every check, and a fixed clock far in the future so nothing ever rots.
#![allow(dead_code)]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wsgate_core::mint::TestKeys;
use wsgate_core::{Gate, Settings};
use wsgate_fixtures::configs::{cloud_identity_lookup, google_and_iap, google_certs};
use wsgate_fixtures::{GoogleClaims, merge_patch, patched};

/// 2030-03-17; every fixture time is relative to it.
pub const NOW: u64 = 1_900_000_000;

/// The gate's clock is Unix milliseconds; token times are seconds.
pub fn ms(seconds: u64) -> u64 {
    seconds * 1000
}

pub const AUDIENCE: &str = wsgate_fixtures::configs::AUDIENCE;
pub const GOOGLE: &str = wsgate_fixtures::claims::GOOGLE_ISSUER;
pub const IAP: &str = wsgate_fixtures::claims::IAP_ISSUER;
pub const IAP_AUDIENCE: &str = wsgate_fixtures::configs::IAP_AUDIENCE;

/// A config with a Google provider (RS256, hd example.com, the bare issuer too) and an
/// IAP provider (ES256).
pub fn config() -> Value {
    let policy = json!({"public_paths": ["/healthz"], "allow": {"domains": ["example.com"], "users": ["partner@other.test"]}});
    let mut config = google_and_iap(&TestKeys::shared().jwks(), policy);
    merge_patch(&mut config["providers"][0], &json!({"issuers": [GOOGLE, "accounts.google.com"], "allowed_domains": ["example.com"]}));
    config
}

pub fn settings(config: &Value) -> Settings {
    Settings::from_json(config.to_string().as_bytes()).unwrap()
}

pub fn gate() -> Gate {
    Gate::new(settings(&config()))
}

/// The claims of a good Google ID token for alice@example.com.
pub fn google_claims() -> Value {
    GoogleClaims::id_token("alice@example.com", AUDIENCE, NOW)
        .issued_ago(60)
        .subject("110000000000000000001")
        .set("azp", "1234.apps.googleusercontent.com")
        .build()
}

/// The claims of a good IAP assertion (no `email_verified`: IAP does not send it).
pub fn iap_claims() -> Value {
    GoogleClaims::iap_assertion("alice@example.com", IAP_AUDIENCE, NOW).issued_ago(10).subject("accounts.google.com:110000000000000000001").build()
}

/// `google_claims` with the given fields replaced (`null` removes one).
pub fn google_with(changes: Value) -> Value {
    patched(google_claims(), &changes)
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

/// The config's Google provider with its keys fetched through cluster `google`
/// instead of given inline; `changes` overlaid on its `remote_jwks`.
pub fn remote_keys_gate(changes: Value) -> Gate {
    let mut config = config();
    merge_patch(&mut config["providers"][0], &json!({"local_jwks": null, "remote_jwks": patched(google_certs("google"), &changes)}));
    Gate::new(settings(&config))
}

/// The config with live Cloud Identity lookups through cluster `google` (answers live
/// 300 s, 60 s for "not a member", 600 s stale; `lookup_changes` overlaid) and the
/// policy `rules`.
pub fn live_groups_gate(lookup_changes: Value, rules: Value) -> Gate {
    let mut lookup = patched(cloud_identity_lookup("google"), &json!({"ttl_seconds": 300, "negative_ttl_seconds": 60, "stale_if_error_seconds": 600}));
    merge_patch(&mut lookup, &lookup_changes);
    let mut config = config();
    config["policy"] = json!({"rules": rules});
    config["group_lookup"] = lookup;
    Gate::new(settings(&config))
}
