//! Arbitrary bytes as a token, verified at a fixed time by the providers of
//! `wsgate_fuzz::config` (Google RS256 + IAP ES256, local JWKS). Never panics; a token
//! that verifies must be one of the committed valid tokens, byte for byte, and its
//! identity must agree with its claims.
//!
//! An input starting with byte 0x01 is instead `[header choice] payload…`: the payload
//! (any bytes) is signed with the TEST-ONLY EC key, so the claim checks behind the
//! signature are fuzzed too; whatever verifies must pass the restated claim rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use wsgate_core::Settings;
use wsgate_fuzz::*;

struct Fixture {
    settings: Settings,
    valid: HashSet<Vec<u8>>,
    ec: p256::ecdsa::SigningKey,
    headers: Vec<Vec<u8>>,
}

thread_local! {
    static FIXTURE: Fixture = Fixture {
        settings: settings(&config(serde_json::json!({"allow": {"authenticated": true}}))),
        valid: known_tokens().into_iter().filter(|t| t.valid).map(|t| t.token.into_bytes()).collect(),
        ec: ec_signing_key(),
        headers: [
            format!(r#"{{"alg":"ES256","kid":"{EC_KID}","typ":"JWT"}}"#),
            format!(r#"{{"alg":"ES256","kid":"{EC_KID}"}}"#),
            format!(r#"{{"alg":"ES256","kid":"{EC_KID}","crit":["exp"]}}"#),
            format!(r#"{{"alg":"ES256","kid":"{RSA_KID}"}}"#),
            r#"{"alg":"ES256"}"#.to_owned(),
            format!(r#"{{"alg":"RS256","kid":"{EC_KID}"}}"#),
            format!(r#"{{"alg":"ES256","kid":"{EC_KID}","alg":"none"}}"#),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect(),
    };
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| match data {
        [1, choice, rest @ ..] => signed(f, *choice, rest),
        _ => raw(f, data),
    })
});

fn raw(f: &Fixture, token: &[u8]) {
    let Ok(identity) = f.settings.verifier.check(token, NOW) else { return };
    assert!(f.valid.contains(token), "a token that is not one of the committed valid tokens verified: {:?}", String::from_utf8_lossy(token));
    let payload = std::str::from_utf8(token).ok().and_then(|t| t.split('.').nth(1)).and_then(unb64).expect("a verified token has a payload");
    assert_claims_acceptable(&identity, &payload, NOW);
}

fn signed(f: &Fixture, choice: u8, rest: &[u8]) {
    // A header from the list, or (choice beyond it) one from the input up to a NUL.
    let (header, payload) = match f.headers.get(usize::from(choice)) {
        Some(header) => (header.as_slice(), rest),
        None => match rest.iter().position(|&b| b == 0) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => return,
        },
    };
    let token = es256_token(&f.ec, header, payload);
    let Ok(identity) = f.settings.verifier.check(token.as_bytes(), NOW) else { return };
    let header: serde_json::Value = serde_json::from_slice(header).expect("an accepted header is JSON");
    assert_eq!(header["alg"], "ES256", "accepted a token whose header says {header}");
    assert_claims_acceptable(&identity, payload, NOW);
}
