//! The stand-in for Google's endpoints answers in the documented shapes, rotates
//! keys the way Google does, and injects the faults the live-keys and live-groups
//! tests need. Real HTTP on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use serde_json::json;
use std::time::{Duration, Instant};
use wsgate_core::Settings;
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::configs::google_provider;
use wsgate_host_tests::google::{Fault, GoogleStandIn};
use wsgate_host_tests::http;

const NOW: u64 = 1_900_000_000;

fn claims() -> serde_json::Value {
    GoogleClaims::id_token("alice@example.com", "svc", NOW).issued_ago(10).build()
}

/// Verifies `token` against the JWKS the stand-in serves right now, with wsgate's own verifier.
fn verifies(google: &GoogleStandIn, token: &str) -> bool {
    let jwks = http::get(google.port, "/oauth2/v3/certs", &[]).unwrap().json();
    let config = json!({"providers": [google_provider("svc", &jwks)],
                        "policy": {"allow": {"authenticated": true}}});
    let settings = Settings::from_json(config.to_string().as_bytes()).unwrap();
    settings.verifier.verify(token.as_bytes(), NOW).is_ok()
}

fn access_token(google: &GoogleStandIn) -> String {
    let response = http::get(google.port, "/computeMetadata/v1/instance/service-accounts/default/token", &[("metadata-flavor", "Google")]).unwrap();
    response.json()["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn certs_carry_cache_control_and_rotation_publishes_old_and_new_keys() {
    let google = GoogleStandIn::start().unwrap();
    let response = http::get(google.port, "/oauth2/v3/certs", &[]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("public, max-age=21600, must-revalidate, no-transform"));
    let before = google.mint(&claims()).unwrap();
    assert!(verifies(&google, &before));

    let kid = google.rotate().unwrap();
    let after = google.mint(&claims()).unwrap();
    let keys = http::get(google.port, "/oauth2/v3/certs", &[]).unwrap().json()["keys"].as_array().unwrap().len();
    assert_eq!((keys, google.current_kid().unwrap()), (2, kid.clone()));
    assert!(verifies(&google, &before) && verifies(&google, &after), "both keys are published during a rotation");

    google.retire_oldest();
    assert!(!verifies(&google, &before) && verifies(&google, &after));
    // A rotation after a retirement names a new key, never a retired or published one.
    let next = google.rotate().unwrap();
    assert!(next != kid && next != "standin-1", "{next} reuses a kid");
}

#[test]
fn the_metadata_token_needs_the_flavor_header_and_is_refused_through_a_proxy() {
    let google = GoogleStandIn::start().unwrap();
    let path = "/computeMetadata/v1/instance/service-accounts/default/token";
    assert_eq!(http::get(google.port, path, &[]).unwrap().status, 403);
    assert_eq!(http::get(google.port, path, &[("metadata-flavor", "Google"), ("x-forwarded-for", "1.2.3.4")]).unwrap().status, 403);
    let token = http::get(google.port, path, &[("metadata-flavor", "Google")]).unwrap().json();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3599);
    assert!(token["access_token"].as_str().unwrap().starts_with("ya29."));
}

#[test]
fn cloud_identity_checks_transitive_membership_with_a_metadata_token() {
    let google = GoogleStandIn::start().unwrap();
    google.set_members("eng@example.com", &["backend@example.com"]);
    google.set_members("backend@example.com", &["alice@example.com"]);
    let lookup = "/v1/groups:lookup?groupKey.id=eng%40example.com";
    assert_eq!(http::get(google.port, lookup, &[]).unwrap().status, 401, "group APIs need a token");
    let bearer = format!("Bearer {}", access_token(&google));
    let auth = [("authorization", bearer.as_str())];
    let name = http::get(google.port, lookup, &auth).unwrap().json()["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("groups/") && !name.contains('@'), "{name}");
    let check = |member: &str| {
        let query = format!("/v1/{name}/memberships:checkTransitiveMembership?query=member_key_id%20%3D%3D%20%27{member}%27");
        http::get(google.port, &query, &auth).unwrap().json()["hasMembership"].clone()
    };
    assert_eq!(check("alice%40example.com"), json!(true), "nested through backend@");
    assert_eq!(check("bob%40example.com"), json!(false));
    let error = http::get(google.port, "/v1/groups:lookup?groupKey.id=nope%40example.com", &auth).unwrap();
    assert_eq!((error.status, error.json()["error"]["status"].clone()), (404, json!("NOT_FOUND")));
}

#[test]
fn admin_sdk_has_member_follows_nested_groups() {
    let google = GoogleStandIn::start().unwrap();
    google.set_members("eng@example.com", &["backend@example.com"]);
    google.set_members("backend@example.com", &["alice@example.com"]);
    let bearer = format!("Bearer {}", access_token(&google));
    let has = |member: &str| {
        let path = format!("/admin/directory/v1/groups/eng@example.com/hasMember/{member}");
        http::get(google.port, &path, &[("authorization", &bearer)]).unwrap().json()["isMember"].clone()
    };
    assert_eq!((has("alice@example.com"), has("bob@example.com")), (json!(true), json!(false)));
    google.set_members("backend@example.com", &[]);
    assert_eq!(has("alice@example.com"), json!(false), "a removed member is gone at once");
}

#[test]
fn faults_answer_with_google_errors_slowly_or_not_at_all() {
    let google = GoogleStandIn::start().unwrap();
    google.set_fault("/oauth2", Fault::Status(503));
    let response = http::get(google.port, "/oauth2/v3/certs", &[]).unwrap();
    assert_eq!((response.status, response.json()["error"]["code"].clone()), (503, json!(503)));
    google.set_fault("/oauth2", Fault::Status(429));
    assert_eq!(http::get(google.port, "/oauth2/v3/certs", &[]).unwrap().status, 429);
    google.set_fault("/oauth2", Fault::Drop);
    assert!(http::get(google.port, "/oauth2/v3/certs", &[]).is_err(), "a dropped connection is an error, not a response");
    google.set_fault("/oauth2", Fault::Slow(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(http::get(google.port, "/oauth2/v3/certs", &[]).unwrap().status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    google.clear_faults();
    assert_eq!(http::get(google.port, "/oauth2/v3/certs", &[]).unwrap().status, 200);
    assert_eq!(google.requests_to("/oauth2/v3/certs").len(), 5);
}
