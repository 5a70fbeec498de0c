//! The signature checks wsgate owns (`rs256`, `es256`, and the token layer in
//! `verify`): Google's Wycheproof vectors, and the same answers as jwt-simple — the
//! verifier they replaced — on valid, forged and malformed tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use jwt_simple::JWTError;
use jwt_simple::prelude::*;
use serde_json::{Value, json};
use support::*;
use wsgate_core::Reason;
use wsgate_core::es256::Es256Key;
use wsgate_core::mint::{SigningKey, TestKeys, sign_rs256_raw};
use wsgate_core::provider::GoogleClaims;
use wsgate_core::rs256::Rs256Key;
use wycheproof::TestResult;

/// Runs one Wycheproof set and counts the vectors checked; `check` is `None` when the
/// key is refused at import (by policy: the caller asserts why).
fn wycheproof<G, T>(name: &str, groups: &[G], tests: impl Fn(&G) -> &[T], check: impl Fn(&G, &T) -> Option<bool>, result: impl Fn(&T) -> (usize, TestResult)) -> usize {
    let mut ran = 0;
    for group in groups {
        for test in tests(group) {
            let (id, expected) = result(test);
            let Some(verified) = check(group, test) else { continue };
            match expected {
                TestResult::Valid => assert!(verified, "{name} tcId {id}: a valid signature was refused"),
                TestResult::Invalid => assert!(!verified, "{name} tcId {id}: an invalid signature was accepted"),
                TestResult::Acceptable => {}
            }
            ran += 1;
        }
    }
    ran
}

#[test]
fn wycheproof_rsa_pkcs1_v1_5_sha256_2048_3072_4096() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let mut ran = 0;
    for name in [TestName::Rsa2048Sha256, TestName::Rsa3072Sha256, TestName::Rsa4096Sha256] {
        let set = TestSet::load(name).unwrap();
        ran += wycheproof(
            &format!("{name:?}"),
            &set.test_groups,
            |group| &group.tests,
            |group, test| match Rs256Key::from_components(&group.key.n, &group.key.e) {
                Ok(key) => Some(key.verify(&test.msg, &test.sig)),
                Err(refused) => {
                    // Only e = 65537 is accepted, as Google's keys and jwt-simple have it.
                    assert_eq!(refused, wsgate_core::rs256::KeyImportError::ExponentNotF4, "{name:?} tcId {}", test.tc_id);
                    None
                }
            },
            |test| (test.tc_id, test.result),
        );
    }
    assert!(ran > 500, "only {ran} vectors ran");
}

#[test]
fn wycheproof_ecdsa_p256_sha256_in_jose_form() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    let ran = wycheproof(
        "EcdsaSecp256r1Sha256P1363",
        &set.test_groups,
        |group| &group.tests,
        |group, test| {
            let point = &group.key.key;
            Es256Key::from_coordinates(&point[1..33], &point[33..]).ok().map(|key| key.verify(&test.msg, &test.sig))
        },
        |test| (test.tc_id, test.result),
    );
    assert!(ran > 200, "only {ran} vectors ran");
}

/// What the verifier before this one answered: jwt-simple's `verify_token`, its
/// errors mapped to reasons as it mapped them.
fn jwt_simple_answer(token: &str) -> Result<(), Reason> {
    let keys = TestKeys::shared();
    let options = VerificationOptions {
        accept_future: true,
        time_tolerance: Some(Duration::from_secs(clock_skew())),
        artificial_time: Some(Duration::from_secs(NOW)),
        max_token_length: None,
        ..Default::default()
    };
    let rsa = RS256PublicKey::from_jwk(&keys.rsa.public_jwk().to_string()).unwrap();
    let ec = ES256PublicKey::from_jwk(&keys.ec.public_jwk().to_string()).unwrap();
    let answer = if token_header(token)["alg"] == "ES256" {
        ec.verify_token::<GoogleClaims>(token, Some(options))
    } else {
        rsa.verify_token::<GoogleClaims>(token, Some(options))
    };
    answer.map(|_| ()).map_err(|error| match error.downcast_ref::<JWTError>() {
        Some(JWTError::TokenHasExpired) => Reason::TokenExpired,
        Some(JWTError::AlgorithmMismatch) => Reason::AlgorithmKeyMismatch,
        Some(JWTError::CompactEncodingError | JWTError::HeaderTooLarge | JWTError::NotJWT | JWTError::UnknownCriticalExtension) => Reason::MalformedToken,
        Some(_) => Reason::BadSignature,
        None => Reason::MalformedToken,
    })
}

fn clock_skew() -> u64 {
    settings(&config()).verifier.provider(0).unwrap().clock_skew
}

fn token_header(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// wsgate's answer at the signature layer: the claims checks after it (audience,
/// domain…) pass for every token built here, so only its own reasons show.
fn wsgate_answer(token: &str) -> Result<(), Reason> {
    settings(&config()).verifier.verify(token.as_bytes(), NOW).map(|_| ())
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let (signed, _) = token.rsplit_once('.').unwrap();
    format!("{signed}.{}", b64(signature))
}

fn signature_of(token: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.rsplit_once('.').unwrap().1).unwrap()
}

/// Every way to damage a signature that a parser might be lenient about.
fn damaged_signatures(good: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut cases = vec![("good".to_owned(), good.to_vec())];
    for bit in (0..good.len() * 8).step_by(13) {
        let mut flipped = good.to_vec();
        flipped[bit / 8] ^= 1 << (bit % 8);
        cases.push((format!("bit {bit} flipped"), flipped));
    }
    let prefixed = [&[0u8][..], good].concat();
    cases.extend([
        ("a leading zero byte added".to_owned(), prefixed),
        ("the first byte dropped".to_owned(), good[1..].to_vec()),
        ("the last byte dropped".to_owned(), good[..good.len() - 1].to_vec()),
        ("twice over".to_owned(), [good, good].concat()),
        ("all zeros".to_owned(), vec![0; good.len()]),
        ("all ones".to_owned(), vec![0xff; good.len()]),
        ("one".to_owned(), [vec![0; good.len() - 1], vec![1]].concat()),
    ]);
    cases
}

#[test]
fn rs256_signatures_get_jwt_simples_answer() {
    let token = rsa_token(&google_claims());
    let modulus = jwk_bytes(&TestKeys::shared().rsa.public_jwk(), "n");
    let mut cases = damaged_signatures(&signature_of(&token));
    cases.push(("the modulus itself".to_owned(), modulus.clone()));
    let mut below = modulus.clone();
    *below.last_mut().unwrap() -= 1;
    cases.push(("the modulus minus one".to_owned(), below));
    let rogue = TestKeys::shared().rogue_rsa.sign(&google_claims()).unwrap();
    cases.push(("another key's signature".to_owned(), signature_of(&rogue)));
    assert_same_answers(&cases.into_iter().map(|(name, signature)| (name, with_signature(&token, &signature))).collect::<Vec<_>>());
}

#[test]
fn es256_signatures_get_jwt_simples_answer() {
    let token = es_token(&iap_claims());
    let good = signature_of(&token);
    let mut cases = damaged_signatures(&good);
    cases.push(("high S (n - s)".to_owned(), [&good[..32], &negate_mod_order(&good[32..])].concat()));
    cases.push(("r and s swapped".to_owned(), [&good[32..], &good[..32]].concat()));
    assert_same_answers(&cases.into_iter().map(|(name, signature)| (name, with_signature(&token, &signature))).collect::<Vec<_>>());
    assert!(wsgate_answer(&with_signature(&token, &[&good[..32], &negate_mod_order(&good[32..])].concat())).is_ok(), "ES256 does not require low S");
}

#[test]
fn headers_and_expiry_get_jwt_simples_answer() {
    let key = TestKeys::shared();
    let SigningKey::Rs256(pair) = &key.rsa else { panic!("rsa-1 is RS256") };
    let payload = google_claims().to_string();
    let header = |extra: Value| {
        let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
        header.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        header.to_string()
    };
    let mut cases: Vec<(String, String)> = [
        json!({}), json!({"typ": "JWT"}), json!({"typ": "jwt"}), json!({"typ": "at+jwt"}), json!({"typ": "JOSE"}), json!({"typ": 1}),
        json!({"crit": []}), json!({"crit": ["exp"]}), json!({"crit": "exp"}), json!({"cty": 5}), json!({"cty": "JWT"}),
        json!({"x5c": "cert"}), json!({"x5c": ["cert"]}), json!({"jwk": {"kty": "RSA"}}), json!({"jku": "https://evil.test"}),
        json!({"x5t#S256": 1}), json!({"salt": "AQAB"}), json!({"salt": "!!"}), json!({"b64": false}), json!({"zip": "DEF"}),
    ]
    .into_iter()
    .map(|extra| (format!("header {extra}"), sign_rs256_raw(pair, &header(extra), payload.as_bytes()).unwrap()))
    .collect();
    let skew = clock_skew();
    for exp in [json!(NOW - skew - 1), json!(NOW - skew), json!(NOW - skew + 1), json!(NOW as f64 + 0.5), json!((NOW - skew) as f64 - 0.5), json!(-1), json!("soon"), Value::Null] {
        let claims = google_with(json!({"exp": exp, "iat": NOW - skew - 100}));
        cases.push((format!("exp {exp}"), sign_rs256_raw(pair, &header(json!({})), claims.to_string().as_bytes()).unwrap()));
    }
    cases.push(("a payload that is not JSON".to_owned(), sign_rs256_raw(pair, &header(json!({})), b"{\"iss\":\"https://accounts.google.com\"").unwrap()));
    assert_same_answers(&cases);
}

/// Asserts wsgate and jwt-simple agree on every case, and that the cases are not all
/// alike (some pass, some fail).
fn assert_same_answers(cases: &[(String, String)]) {
    let mut outcomes = std::collections::HashSet::new();
    for (name, token) in cases {
        let (ours, theirs) = (wsgate_answer(token), jwt_simple_answer(token));
        // Past the signature, wsgate checks claims jwt-simple does not; compare the
        // signature layer only.
        let ours = ours.or_else(|reason| if is_claims_reason(reason) && theirs.is_ok() { Ok(()) } else { Err(reason) });
        assert_eq!(ours, theirs, "{name}");
        outcomes.insert(ours.is_ok());
    }
    assert_eq!(outcomes.len(), 2, "every case had the same outcome");
}

fn is_claims_reason(reason: Reason) -> bool {
    matches!(reason, Reason::MissingExpiry | Reason::LifetimeTooLong)
}

fn jwk_bytes(jwk: &Value, member: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwk[member].as_str().unwrap()).unwrap()
}

/// `n - s` for P-256's group order `n`, big-endian, 32 bytes.
fn negate_mod_order(s: &[u8]) -> Vec<u8> {
    const ORDER: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
        0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    ];
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        out[i] = digit as u8;
    }
    out
}
