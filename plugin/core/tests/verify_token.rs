//! Token verification, one named case per way a token can be wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use jwt_simple::prelude::*;
use serde_json::json;
use support::*;
use wsgate_core::Reason;
use wsgate_core::mint::TestKeys;

fn verify(token: &str) -> Result<wsgate_core::Identity, Reason> {
    settings(&config()).verifier.verify(token.as_bytes(), NOW)
}

fn refused(token: &str) -> Reason {
    verify(token).unwrap_err()
}

#[test]
fn a_good_google_id_token_yields_the_callers_identity() {
    let identity = verify(&rsa_token(&google_claims())).unwrap();
    assert_eq!(identity.provider, 0);
    assert_eq!(identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(identity.subject, "110000000000000000001");
    assert_eq!(identity.domain.as_deref(), Some("example.com"));
    assert_eq!(identity.expires_at, NOW + 3540);
}

#[test]
fn the_bare_accounts_google_com_issuer_is_accepted_too() {
    assert!(verify(&rsa_token(&google_with(json!({"iss": "accounts.google.com"}))) ).is_ok());
}

#[test]
fn a_good_iap_assertion_is_verified_with_es256() {
    let identity = verify(&es_token(&iap_claims())).unwrap();
    assert_eq!(identity.provider, 1);
    assert_eq!(identity.email.as_deref(), Some("alice@example.com"));
}

#[test]
fn an_expired_token_is_refused() {
    let claims = google_with(json!({"iat": NOW - 4000, "exp": NOW - 400}));
    assert_eq!(refused(&rsa_token(&claims)), Reason::TokenExpired);
}

#[test]
fn a_token_expired_within_the_clock_skew_is_still_accepted() {
    let claims = google_with(json!({"iat": NOW - 3630, "exp": NOW - 30}));
    assert!(verify(&rsa_token(&claims)).is_ok());
}

#[test]
fn a_token_whose_nbf_is_in_the_future_is_refused() {
    let claims = google_with(json!({"nbf": NOW + 600}));
    assert_eq!(refused(&rsa_token(&claims)), Reason::TokenNotYetValid);
}

#[test]
fn a_token_issued_in_the_future_beyond_the_skew_is_refused() {
    let claims = google_with(json!({"iat": NOW + 300, "exp": NOW + 3000}));
    assert_eq!(refused(&rsa_token(&claims)), Reason::IssuedInFuture);
}

#[test]
fn a_token_issued_in_the_future_within_the_skew_is_accepted() {
    let claims = google_with(json!({"iat": NOW + 30, "exp": NOW + 3000}));
    assert!(verify(&rsa_token(&claims)).is_ok());
}

#[test]
fn a_lifetime_over_the_maximum_is_refused() {
    let claims = google_with(json!({"iat": NOW - 60, "exp": NOW + 86_400}));
    assert_eq!(refused(&rsa_token(&claims)), Reason::LifetimeTooLong);
}

#[test]
fn a_token_without_exp_or_iat_is_refused() {
    assert_eq!(refused(&rsa_token(&google_with(json!({"exp": null})))), Reason::MissingExpiry);
    assert_eq!(refused(&rsa_token(&google_with(json!({"iat": null})))), Reason::MissingIssuedAt);
}

#[test]
fn a_wrong_issuer_is_refused() {
    let claims = google_with(json!({"iss": "https://evil.example"}));
    assert_eq!(refused(&rsa_token(&claims)), Reason::IssuerNotAllowed);
    assert_eq!(refused(&rsa_token(&google_with(json!({"iss": null})))), Reason::IssuerNotAllowed);
}

#[test]
fn a_wrong_audience_is_refused() {
    let claims = google_with(json!({"aud": "https://other-service.a.run.app"}));
    assert_eq!(refused(&rsa_token(&claims)), Reason::AudienceNotAllowed);
}

#[test]
fn a_wrong_or_missing_hd_is_refused() {
    assert_eq!(refused(&rsa_token(&google_with(json!({"hd": "evil.example"})))), Reason::DomainNotAllowed);
    assert_eq!(refused(&rsa_token(&google_with(json!({"hd": null})))), Reason::DomainNotAllowed);
}

#[test]
fn an_unverified_email_is_refused() {
    assert_eq!(refused(&rsa_token(&google_with(json!({"email_verified": false})))), Reason::EmailNotVerified);
    assert_eq!(refused(&rsa_token(&google_with(json!({"email_verified": null})))), Reason::EmailNotVerified);
    assert!(verify(&rsa_token(&google_with(json!({"email_verified": "true"})))).is_ok());
}

#[test]
fn a_disallowed_azp_is_refused_when_azp_is_restricted() {
    let mut config = config();
    config["providers"][0]["allowed_azp"] = json!(["1234.apps.googleusercontent.com"]);
    let verifier = settings(&config).verifier;
    let other = rsa_token(&google_with(json!({"azp": "999.apps.googleusercontent.com"})));
    assert_eq!(verifier.verify(other.as_bytes(), NOW).unwrap_err(), Reason::AuthorizedPartyNotAllowed);
    assert!(verifier.verify(rsa_token(&google_claims()).as_bytes(), NOW).is_ok());
}

#[test]
fn an_unknown_kid_is_refused() {
    let stranger = wsgate_core::mint::SigningKey::generate_es256("nobody-knows-me");
    assert_eq!(refused(&stranger.sign(&iap_claims()).unwrap()), Reason::UnknownKeyId);
}

#[test]
fn a_token_without_kid_is_refused() {
    let token = rsa_token(&google_claims());
    let (_, rest) = token.split_once('.').unwrap();
    let without_kid = format!("{}.{rest}", b64(br#"{"alg":"RS256","typ":"JWT"}"#));
    assert_eq!(refused(&without_kid), Reason::MissingKeyId);
}

#[test]
fn alg_none_is_refused() {
    let token = forged(&json!({"alg": "none", "kid": "rsa-1"}), &google_claims(), b"");
    // An empty signature segment is malformed before `alg` is even read…
    assert_eq!(refused(&token), Reason::MalformedToken);
    // …and with a signature present, `none` itself is refused.
    let token = forged(&json!({"alg": "none", "kid": "rsa-1"}), &google_claims(), b"x");
    assert_eq!(refused(&token), Reason::AlgorithmNotAllowed);
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // Algorithm confusion: a verifier that trusted `alg` would HMAC-check this token
    // with the public key it already has, and accept it.
    let public_pem = match &TestKeys::shared().rsa {
        wsgate_core::mint::SigningKey::Rs256(key) => key.public_key().to_pem().unwrap(),
        _ => unreachable!(),
    };
    let claims = google_claims();
    let jwt_claims = Claims::with_custom_claims(claims.clone(), Duration::from_secs(3600));
    let token = HS256Key::from_bytes(public_pem.as_bytes()).with_key_id("rsa-1").authenticate(jwt_claims).unwrap();
    assert_eq!(refused(&token), Reason::AlgorithmNotAllowed);
}

#[test]
fn an_algorithm_the_provider_does_not_allow_is_refused() {
    // The IAP provider only allows ES256; an RS256 token for it is refused even
    // though its key set holds an RSA key.
    let claims = iap_claims();
    assert_eq!(refused(&rsa_token(&claims)), Reason::AlgorithmNotAllowed);
}

#[test]
fn an_alg_that_does_not_match_the_key_type_is_refused() {
    let mut config = config();
    config["providers"][0]["algorithms"] = json!(["RS256", "ES256"]);
    let token = rsa_token(&google_claims());
    let (_, rest) = token.split_once('.').unwrap();
    let relabelled = format!("{}.{rest}", b64(br#"{"alg":"ES256","kid":"rsa-1"}"#));
    let verifier = settings(&config).verifier;
    assert_eq!(verifier.verify(relabelled.as_bytes(), NOW).unwrap_err(), Reason::AlgorithmKeyMismatch);
}

#[test]
fn a_token_signed_by_another_key_with_the_same_kid_is_refused() {
    let token = TestKeys::shared().rogue_rsa.sign(&google_claims()).unwrap();
    assert_eq!(refused(&token), Reason::BadSignature);
}

#[test]
fn a_tampered_payload_is_refused() {
    let token = rsa_token(&google_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let payload = google_with(json!({"email": "ceo@example.com"}));
    let tampered = format!("{}.{}.{}", parts[0], b64(payload.to_string().as_bytes()), parts[2]);
    assert_eq!(refused(&tampered), Reason::BadSignature);
}

#[test]
fn two_four_or_five_segments_are_malformed() {
    let token = rsa_token(&google_claims());
    let parts: Vec<&str> = token.split('.').collect();
    for candidate in [
        parts[..2].join("."),
        format!("{token}.{}", parts[2]),
        format!("{token}.{}.{}", parts[2], parts[2]),
    ] {
        assert_eq!(refused(&candidate), Reason::MalformedToken, "{} segments", candidate.split('.').count());
    }
}

#[test]
fn bad_base64_is_malformed() {
    let token = rsa_token(&google_claims());
    let (header, rest) = token.split_once('.').unwrap();
    assert_eq!(refused(&format!("{header}+.{rest}")), Reason::MalformedToken);
    // One character too many for any base64 length.
    assert_eq!(refused(&format!("{header}A.{rest}")), Reason::MalformedToken);
}

#[test]
fn a_non_json_payload_is_malformed() {
    let token = format!("{}.{}.{}", b64(br#"{"alg":"RS256","kid":"rsa-1"}"#), b64(b"not json"), b64(b"sig"));
    assert_eq!(refused(&token), Reason::MalformedToken);
}

#[test]
fn a_100_kib_token_is_refused_quickly() {
    let verifier = settings(&config()).verifier;
    let huge = "a".repeat(100 * 1024);
    let started = std::time::Instant::now();
    assert_eq!(verifier.verify(huge.as_bytes(), NOW).unwrap_err(), Reason::TokenTooLarge);
    // A length compare, not a parse: generous bound for slow debug builds on busy CI.
    assert!(started.elapsed() < std::time::Duration::from_millis(50), "{:?}", started.elapsed());
}

#[test]
fn a_non_utf8_token_is_malformed() {
    let verifier = settings(&config()).verifier;
    assert_eq!(verifier.verify(b"\xff\xfe.\x80.\x81", NOW).unwrap_err(), Reason::MalformedToken);
}

#[test]
fn a_header_with_a_lone_surrogate_in_an_ignored_member_is_malformed() {
    // Found by the `token` fuzz target: serde's struct parse skips the member, a JSON
    // value parser refuses it; the header must read the same to every parser.
    let header = r#"{"alg":"RS256","kid":"rsa-1","x":"\ud800"}"#;
    let token = format!("{}.{}.{}", b64(header.as_bytes()), b64(google_claims().to_string().as_bytes()), b64(b"sig"));
    assert_eq!(refused(&token), Reason::MalformedToken);
}
