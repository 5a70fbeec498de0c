//! The callers Google Workspace sends, through real Envoy and the Google stand-in:
//! a Chat app with each audience kind (Chat's keys fetched as an X.509 certificate
//! map), an add-on acting for a user whose token rides in the body, Pub/Sub push and
//! Apps Script on their own routes, Chat's certificates rotated under traffic, and a
//! body that arrives while a decision is open. Run with `make e2e`.

mod support;

use serde_json::{Value, json};
use std::thread;
use std::time::Duration;
use support::*;
use wsgate_core::mint::SigningKey;
use wsgate_fixtures::claims::addon_event;
use wsgate_fixtures::configs::{ADDON_CLIENT, ADDON_PROJECT, CHAT_PROJECT, PUSH_ACCOUNT, SCRIPT_CLIENT, google_certs, google_provider_fetching, workspace_callers};
use wsgate_fixtures::{GoogleClaims, merge_patch};
use wsgate_host_tests::envoy::http_cluster;
use wsgate_host_tests::google::{Fault, GoogleStandIn};
use wsgate_host_tests::http::{Response, post};
use wsgate_host_tests::stack::Stack;

/// The Workspace callers' configuration with Google's and Chat's keys both fetched
/// through the cluster `google`.
fn callers_config() -> Value {
    let mut config = workspace_callers(&json!({}), "google");
    merge_patch(&mut config["providers"][0], &json!({"local_jwks": null, "remote_jwks": google_certs("google")}));
    config
}

fn start_callers(test: &str, google: &GoogleStandIn) -> Stack {
    start_with_google(test, callers_config(), google)
}

/// Envoy with `config`, its cluster `google` reaching the stand-in.
fn start_with_google(test: &str, config: Value, google: &GoogleStandIn) -> Stack {
    let mut options = options(test, config);
    options.extra_clusters = http_cluster("google", google.port);
    Stack::start_ready(&options).unwrap_or_else(|e| panic!("{e}"))
}

fn send(stack: &Stack, path: &str, token: &str, body: &[u8]) -> Response {
    let authorization = bearer(token);
    post(stack.port(), path, &[("authorization", &authorization), ("content-type", "application/json")], body).unwrap()
}

fn code(response: &Response) -> String {
    response.json()["error"].as_str().unwrap_or_default().to_owned()
}

fn addon_body(google: &GoogleStandIn, system: &str, user_email: Option<&str>) -> Vec<u8> {
    let user = user_email.map(|email| google.mint(&GoogleClaims::id_token(email, AUDIENCE, now()).issued_ago(10).set("azp", ADDON_CLIENT).build()).unwrap());
    addon_event(system, user.as_deref()).to_string().into_bytes()
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn chat_apps_addons_pubsub_and_apps_script_each_reach_only_their_routes() {
    let google = GoogleStandIn::start().unwrap();
    let stack = start_callers("callers_routes", &google);

    // Chat, project-number audience: Chat's own token, keys from the certificate map.
    let chat = google.mint_chat(&GoogleClaims::chat_project_token(CHAT_PROJECT, now()).issued_ago(5).build()).unwrap();
    let response = send(&stack, "/chat/events", &chat, br#"{"type":"MESSAGE"}"#);
    let headers = upstream_headers(&response);
    assert_eq!(headers["x-workspace-via"], "chat:111111111111");
    assert_eq!(response.json()["body"], r#"{"type":"MESSAGE"}"#, "the event reaches the app unchanged");
    assert_eq!(send(&stack, "/addon/x", &chat, b"{}").status, 403);
    assert!(!google.requests_to("/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com").is_empty());

    // Chat, endpoint-URL audience: any Chat app pointed at the URL gets tokens of
    // Chat's shared account, so only the project's own add-on account names the app.
    let shared = google.mint(&GoogleClaims::chat_endpoint_token(AUDIENCE, now()).issued_ago(5).build()).unwrap();
    assert_eq!(send(&stack, "/chat/events", &shared, b"{}").status, 403);
    let own = google.mint(&GoogleClaims::addon_system_token(CHAT_PROJECT, AUDIENCE, now()).issued_ago(5).build()).unwrap();
    assert_eq!(upstream_headers(&send(&stack, "/chat/events", &own, b"{}"))["x-workspace-via"], "chat:111111111111");

    // Pub/Sub push: its service account, on its route only.
    let push = google.mint(&GoogleClaims::service_account(PUSH_ACCOUNT, AUDIENCE, now()).issued_ago(5).build()).unwrap();
    let message = br#"{"message":{"data":"e30=","messageId":"1"},"subscription":"projects/orders-prod/subscriptions/s"}"#;
    assert_eq!(upstream_headers(&send(&stack, "/pubsub/push", &push, message))["x-workspace-via"], "service_account:orders-push");
    assert_eq!(send(&stack, "/app/orders", &push, message).status, 403);

    // Apps Script: the user, through the script's OAuth client.
    let script = google.mint(&GoogleClaims::apps_script("carol@example.com", SCRIPT_CLIENT, now()).issued_ago(5).build()).unwrap();
    let headers = upstream_headers(&send(&stack, "/script/run", &script, b"{}"));
    assert_eq!((headers["x-workspace-email"].as_str(), headers["x-workspace-via"].as_str()), (Some("carol@example.com"), Some("apps_script:budget-script")));
    assert_eq!(send(&stack, "/app", &script, b"{}").status, 403, "a script's token is not the person calling directly");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn an_addon_acting_for_a_user_is_decided_on_the_user_and_both_reach_service_and_log() {
    let google = GoogleStandIn::start().unwrap();
    let stack = start_callers("callers_addon", &google);
    let system = google.mint(&GoogleClaims::addon_system_token(ADDON_PROJECT, AUDIENCE, now()).issued_ago(5).build()).unwrap();

    let body = addon_body(&google, &system, Some("alice@example.com"));
    let response = send(&stack, "/addon/expenses", &system, &body);
    let headers = upstream_headers(&response);
    assert_eq!(headers["x-workspace-email"], "alice@example.com");
    assert_eq!(headers["x-workspace-groups"], "finance@example.com");
    assert_eq!(headers["x-workspace-via"], "addon:222222222222");
    assert_eq!(response.json()["body"].as_str().unwrap().as_bytes(), body.as_slice(), "the body is forwarded unchanged");

    let bob = send(&stack, "/addon/expenses", &system, &addon_body(&google, &system, Some("bob@example.com")));
    assert_eq!((bob.status, code(&bob).as_str()), (403, "not_allowed"));
    // Signed by a key that claims Google's key id.
    let impostor = SigningKey::generate_rs256(&google.current_kid().unwrap()).unwrap();
    let forged_user = impostor.sign(&GoogleClaims::id_token("alice@example.com", AUDIENCE, now()).issued_ago(5).build()).unwrap();
    let forged = send(&stack, "/addon/expenses", &system, addon_event(&system, Some(&forged_user)).to_string().as_bytes());
    assert_eq!((forged.status, code(&forged).as_str()), (401, "bad_signature"));
    assert!(forged.header("www-authenticate").is_some_and(|v| v.contains("invalid_token")));
    let missing = send(&stack, "/addon/expenses", &system, &addon_body(&google, &system, None));
    assert_eq!((missing.status, code(&missing).as_str()), (401, "user_token_missing"));
    let large = json!({"authorizationEventObject": {"userIdToken": "x"}, "pad": "p".repeat(70_000)}).to_string();
    let too_large = send(&stack, "/addon/expenses", &system, large.as_bytes());
    assert_eq!((too_large.status, code(&too_large).as_str()), (413, "body_too_large"));
    assert_eq!(stack.upstream.received().len(), 1, "only alice's request reached the service");

    let lines = decision_lines(&stack);
    let allowed = lines.iter().find(|l| l["email"] == "alice@example.com").expect("alice's decision");
    assert_eq!((allowed["via"].as_str(), allowed["via_email"].as_str()), (Some("addon:222222222222"), Some("service-222222222222@gcp-sa-gsuiteaddons.iam.gserviceaccount.com")));
    assert!(lines.iter().any(|l| l["reason"] == "bad_signature" && l["failed_token"] == "user"));
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn chat_certificates_rotate_under_traffic_and_not_one_valid_request_is_refused() {
    let google = GoogleStandIn::start().unwrap();
    let stack = start_callers("callers_rotation", &google);
    let port = stack.port();
    let traffic = google.clone();
    let send = move |n: u64| {
        let claims = GoogleClaims::chat_project_token(CHAT_PROJECT, now()).issued_ago(5).set("jti", n.to_string()).build();
        let response = post(port, "/chat/events", &[("authorization", &bearer(&traffic.mint_chat(&claims).unwrap()))], b"{}").unwrap();
        (response.status, response.body)
    };
    let outcomes = under_traffic(send, || {
        thread::sleep(Duration::from_millis(500));
        google.rotate_chat().unwrap();
        thread::sleep(Duration::from_millis(1500));
        google.retire_oldest_chat();
        thread::sleep(Duration::from_millis(500));
    });
    let refused: Vec<&(u16, String)> = outcomes.iter().filter(|(status, _)| *status != 200).collect();
    assert!(outcomes.len() > 20, "too little traffic: {}", outcomes.len());
    assert!(refused.is_empty(), "{} of {} refused: {:?}", refused.len(), outcomes.len(), refused.first());
    let fetches = google.requests_to("/service_accounts/v1/metadata/x509/").len();
    assert!((2..=4).contains(&fetches), "start-up plus one refresh for the new kid, not one per request: {fetches}");
    println!("chat rotation: {} requests, 0 refused, {fetches} certificate-map fetches", outcomes.len());
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_body_that_arrives_while_the_decision_waits_is_held_with_its_headers() {
    let google = GoogleStandIn::start().unwrap();
    google.set_fault("/oauth2/v3/certs", Fault::Status(503));
    let config = json!({"providers": [google_provider_fetching(AUDIENCE, "google")], "policy": {"allow": {"domains": ["example.com"]}}});
    let stack = start_with_google("callers_held_body", config, &google);
    let token = google.mint(&GoogleClaims::id_token("alice@example.com", AUDIENCE, now()).issued_ago(5).build()).unwrap();
    let response = send(&stack, "/orders", &token, br#"{"amount": 100}"#);
    assert_eq!(response.status, 503, "{response:?}");
    assert!(stack.upstream.received().is_empty(), "the undecided request reached the service: {:?}", stack.upstream.received());
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn the_example_addon_policy_decides_through_envoy() {
    let google = GoogleStandIn::start().unwrap();
    let mut config = callers_config();
    config["policy"] = serde_json::from_str(&repo_file("policies/workspace-addon-finance.json")).unwrap();
    let stack = start_with_google("callers_example_policy", config, &google);
    let system = google.mint(&GoogleClaims::addon_system_token(ADDON_PROJECT, AUDIENCE, now()).issued_ago(5).build()).unwrap();
    let alice = send(&stack, "/addon/claims", &system, &addon_body(&google, &system, Some("alice@example.com")));
    assert_eq!(upstream_headers(&alice)["x-workspace-via"], "addon:222222222222");
    let frank = send(&stack, "/addon/claims", &system, &addon_body(&google, &system, Some("frank@example.com")));
    assert_eq!((frank.status, code(&frank).as_str()), (403, "denied_by_rule"), "a contractor, though in finance");
    let direct = google.mint(&GoogleClaims::id_token("alice@example.com", AUDIENCE, now()).issued_ago(5).set("azp", ADDON_CLIENT).build()).unwrap();
    assert_eq!(send(&stack, "/addon/claims", &direct, b"{}").status, 403, "finance, but not through the add-on");
}
