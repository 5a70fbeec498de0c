//! Every kind of token the fixture kit builds is one the core accepts, under the kit's
//! shared configuration: the kit's defaults are a valid Google token, not a guess.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use serde_json::json;
use wsgate_core::mint::TestKeys;
use wsgate_core::{Identity, Reason, Settings};
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::configs::{AUDIENCE, IAP_AUDIENCE, google_and_iap};

const NOW: u64 = 1_900_000_000;

fn verify(token: &str) -> Result<Identity, Reason> {
    let config = google_and_iap(&TestKeys::shared().jwks(), json!({"allow": {"authenticated": true}}));
    Settings::from_json(config.to_string().as_bytes()).unwrap().verifier.verify(token.as_bytes(), NOW)
}

#[test]
fn a_users_id_token_verifies_with_its_workspace_domain() {
    let token = TestKeys::shared().rsa.sign(&GoogleClaims::id_token("alice@example.com", AUDIENCE, NOW).build()).unwrap();
    let identity = verify(&token).unwrap();
    assert_eq!((identity.provider, identity.email.as_deref(), identity.domain.as_deref()), (0, Some("alice@example.com"), Some("example.com")));
    assert_eq!(identity.expires_at, NOW + 3600);
}

#[test]
fn an_iap_assertion_verifies_through_the_iap_provider() {
    let token = TestKeys::shared().ec.sign(&GoogleClaims::iap_assertion("alice@example.com", IAP_AUDIENCE, NOW).build()).unwrap();
    let identity = verify(&token).unwrap();
    assert_eq!((identity.provider, identity.email.as_deref()), (1, Some("alice@example.com")));
}

#[test]
fn a_service_accounts_id_token_verifies_without_a_domain() {
    let email = "invoker@my-project.iam.gserviceaccount.com";
    let token = TestKeys::shared().rsa.sign(&GoogleClaims::service_account(email, AUDIENCE, NOW).build()).unwrap();
    let identity = verify(&token).unwrap();
    assert_eq!((identity.provider, identity.email.as_deref(), identity.domain), (0, Some(email), None));
}

#[test]
fn an_aged_token_past_its_lifetime_is_refused() {
    let claims = GoogleClaims::id_token("alice@example.com", AUDIENCE, NOW).issued_ago(3600 + 61).build();
    assert_eq!(verify(&TestKeys::shared().rsa.sign(&claims).unwrap()).unwrap_err(), Reason::TokenExpired);
}
