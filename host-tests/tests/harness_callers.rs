//! The callers Google Workspace sends, through the real wsgate.wasm in the harness:
//! Chat's keys fetched as an X.509 certificate map, an add-on's user token read from
//! the body (held by the host meanwhile, then forwarded unchanged), the body limit,
//! and a body that arrives while a decision waits for keys, which must stay held.
//! Run with `make harness` (needs the built .wasm in `WSGATE_WASM`).

mod support;

use serde_json::{Value, json};
use support::AUDIENCE;
use support::wasm::{T0, bearer_request, error_code, start};
use wsgate_core::mint::{SigningKey, TestKeys};
use wsgate_core::mint_x509::certificate_pem;
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::claims::{CHAT_SIGNER, addon_event};
use wsgate_fixtures::configs::{ADDON_CLIENT, ADDON_PROJECT, CHAT_PROJECT, google_provider_fetching, workspace_callers};
use wsgate_harness::plugin::{Exchange, HttpRequest, Plugin};
use wsgate_harness::state::ScriptedAnswer;

fn config() -> Vec<u8> {
    serde_json::to_vec(&workspace_callers(&TestKeys::shared().jwks(), "google")).unwrap()
}

fn certificate_map(keys: &[(&str, &SigningKey)]) -> ScriptedAnswer {
    let map: serde_json::Map<String, Value> = keys.iter().map(|(kid, key)| ((*kid).to_owned(), Value::from(certificate_pem(key, CHAT_SIGNER).unwrap()))).collect();
    let headers = vec![(":status".to_owned(), b"200".to_vec()), ("cache-control".to_owned(), b"public, max-age=19800".to_vec())];
    ScriptedAnswer { response: Some((headers, serde_json::to_vec(&map).unwrap())) }
}

fn post(plugin: &mut Plugin, path: &str, token: &str, body: &[u8]) -> Exchange {
    plugin.send(&HttpRequest { body: body.to_vec(), ..bearer_request("POST", path, token) }).unwrap()
}

fn upstream(exchange: &Exchange, name: &str) -> Option<String> {
    exchange.upstream_request.as_ref()?.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

fn signed(claims: GoogleClaims) -> String {
    TestKeys::shared().rsa.sign(&claims.build()).unwrap()
}

fn addon_body(user_email: Option<&str>) -> (String, Vec<u8>) {
    let system = signed(GoogleClaims::addon_system_token(ADDON_PROJECT, AUDIENCE, T0).issued_ago(10));
    let user = user_email.map(|email| signed(GoogleClaims::id_token(email, AUDIENCE, T0).issued_ago(10).set("azp", ADDON_CLIENT)));
    let body = addon_event(&system, user.as_deref()).to_string().into_bytes();
    (system, body)
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn chat_keys_come_from_the_certificate_map_and_verify_project_number_tokens() {
    let mut plugin = start(&config());
    plugin.script_http_call("google", certificate_map(&[("rsa-1", &TestKeys::shared().rsa)]));
    let token = signed(GoogleClaims::chat_project_token(CHAT_PROJECT, T0).issued_ago(5));
    let exchange = post(&mut plugin, "/chat/events", &token, br#"{"type":"MESSAGE"}"#);
    assert_eq!(exchange.status, 200, "{:?}", exchange.local_reply);
    let fetch = exchange.http_calls.iter().find(|c| c.upstream == "google").expect("the certificate map fetched");
    assert_eq!(support::wasm::call_header(fetch, ":path").as_deref(), Some("/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com"));
    assert_eq!(upstream(&exchange, "x-workspace-via").as_deref(), Some("chat:111111111111"));
    assert_eq!(exchange.upstream_body, br#"{"type":"MESSAGE"}"#);
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_rotated_certificate_map_is_fetched_for_an_unknown_kid() {
    let next = SigningKey::generate_rs256("rsa-2").unwrap();
    let mut plugin = start(&config());
    plugin.script_http_call("google", certificate_map(&[("rsa-1", &TestKeys::shared().rsa)]));
    plugin.tick().unwrap();
    plugin.script_http_call("google", certificate_map(&[("rsa-1", &TestKeys::shared().rsa), ("rsa-2", &next)]));
    let token = next.sign(&GoogleClaims::chat_project_token(CHAT_PROJECT, T0).issued_ago(5).build()).unwrap();
    let exchange = post(&mut plugin, "/chat/events", &token, b"{}");
    assert_eq!(exchange.status, 200, "{:?}", exchange.local_reply);
    assert!(exchange.held_ms < 1000, "held {} ms for the new map", exchange.held_ms);
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn an_addon_request_is_decided_on_the_user_in_its_body_and_forwarded_unchanged() {
    let mut plugin = start(&config());
    let (system, body) = addon_body(Some("alice@example.com"));
    let exchange = post(&mut plugin, "/addon/expenses", &system, &body);
    assert_eq!(exchange.status, 200, "{:?}", exchange.local_reply);
    assert_eq!(upstream(&exchange, "x-workspace-email").as_deref(), Some("alice@example.com"));
    assert_eq!(upstream(&exchange, "x-workspace-via").as_deref(), Some("addon:222222222222"));
    assert_eq!(exchange.upstream_body, body, "the body reaches the service as it was sent");
    let line: Value = serde_json::from_str(&exchange.logs.iter().find(|l| l.message.contains("\"decision\"")).unwrap().message).unwrap();
    assert_eq!(line["via_email"], "service-222222222222@gcp-sa-gsuiteaddons.iam.gserviceaccount.com");
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn addon_refusals_reach_the_client_and_nothing_reaches_the_service() {
    let mut plugin = start(&config());
    let (system, bob) = addon_body(Some("bob@example.com"));
    let (_, nobody) = addon_body(None);
    let forged = addon_event(&system, Some(&TestKeys::shared().rogue_rsa.sign(&GoogleClaims::id_token("alice@example.com", AUDIENCE, T0).issued_ago(10).build()).unwrap())).to_string();
    let too_large = json!({"authorizationEventObject": {"userIdToken": "x"}, "pad": "p".repeat(70_000)}).to_string();
    for (body, status, code) in [(bob, 403, "not_allowed"), (nobody, 401, "user_token_missing"), (forged.into_bytes(), 401, "bad_signature"), (too_large.into_bytes(), 413, "body_too_large")] {
        let exchange = post(&mut plugin, "/addon/expenses", &system, &body);
        assert_eq!((exchange.status, error_code(&exchange).as_str()), (status, code));
        assert!(exchange.upstream_request.is_none());
    }
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_body_that_arrives_while_the_decision_waits_for_keys_is_held_with_the_headers() {
    // Keys fetched, and the endpoint not answering: the request waits, its body with it.
    let (mut plugin, token) = waiting_for_keys();
    let exchange = post(&mut plugin, "/orders", &token, b"{\"amount\": 1}");
    assert_eq!(exchange.status, 503, "{:?}", exchange.upstream_request);
    assert!(exchange.upstream_request.is_none(), "the body must not carry the undecided headers upstream");
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn pubsub_push_apps_script_and_chat_endpoint_tokens_reach_only_their_routes() {
    use wsgate_fixtures::configs::{PUSH_ACCOUNT, SCRIPT_CLIENT};
    let mut plugin = start(&config());
    plugin.script_http_call("google", certificate_map(&[("rsa-1", &TestKeys::shared().rsa)]));
    let push = signed(GoogleClaims::service_account(PUSH_ACCOUNT, AUDIENCE, T0).issued_ago(5));
    let script = signed(GoogleClaims::apps_script("carol@example.com", SCRIPT_CLIENT, T0).issued_ago(5));
    let shared_chat = signed(GoogleClaims::chat_endpoint_token(AUDIENCE, T0).issued_ago(5));
    let chat = signed(GoogleClaims::addon_system_token(CHAT_PROJECT, AUDIENCE, T0).issued_ago(5));
    let cases = [
        (&push, "/pubsub/push", 200, Some("service_account:orders-push")),
        (&push, "/app", 403, None),
        (&script, "/script/run", 200, Some("apps_script:budget-script")),
        (&script, "/app", 403, None),
        (&chat, "/chat/events", 200, Some("chat:111111111111")),
        (&chat, "/pubsub/push", 403, None),
        (&shared_chat, "/chat/events", 403, None),
    ];
    for (token, path, status, via) in cases {
        let exchange = post(&mut plugin, path, token, b"{}");
        assert_eq!(exchange.status, status, "{path}: {:?}", exchange.local_reply);
        assert_eq!(upstream(&exchange, "x-workspace-via").as_deref(), via, "{path}");
    }
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn trailers_that_arrive_while_the_decision_waits_are_held_too_and_end_the_body() {
    // Undecided: keys being fetched, the endpoint failing. Trailers must not let it through.
    let (mut plugin, token) = waiting_for_keys();
    let exchange = plugin.send(&with_trailers("/orders", &token, b"{\"amount\": 1}")).unwrap();
    assert_eq!(exchange.status, 503);
    assert!(exchange.upstream_request.is_none(), "trailers must not carry undecided headers upstream");

    // An add-on's body ended by trailers: the decision is taken then.
    let mut plugin = start(&config());
    let (system, body) = addon_body(Some("alice@example.com"));
    let exchange = plugin.send(&with_trailers("/addon/expenses", &system, &body)).unwrap();
    assert_eq!(exchange.status, 200, "{:?}", exchange.local_reply);
    assert_eq!(upstream(&exchange, "x-workspace-email").as_deref(), Some("alice@example.com"));
}

/// A plugin whose keys are fetched from an endpoint that fails, and a token it
/// cannot verify yet: its requests wait, then get 503.
fn waiting_for_keys() -> (Plugin, String) {
    let config = json!({"providers": [google_provider_fetching(AUDIENCE, "google")], "policy": {"allow": {"domains": ["example.com"]}}});
    let mut plugin = start(&serde_json::to_vec(&config).unwrap());
    plugin.script_http_call("google", ScriptedAnswer { response: Some((vec![(":status".to_owned(), b"503".to_vec())], Vec::new())) });
    (plugin, signed(GoogleClaims::id_token("alice@example.com", AUDIENCE, T0).issued_ago(10)))
}

fn with_trailers(path: &str, token: &str, body: &[u8]) -> HttpRequest {
    HttpRequest { body: body.to_vec(), trailers: vec![("x-checksum".into(), "abc".into())], ..bearer_request("POST", path, token) }
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_rule_that_names_a_provider_admits_only_callers_it_verified() {
    use wsgate_fixtures::configs::{IAP_AUDIENCE, google_and_iap};
    let policy = json!({"rules": [{"name": "iap-only", "match": {"providers": ["iap"]}, "effect": "allow", "subjects": {"domains": ["example.com"]}}]});
    let mut plugin = start(&serde_json::to_vec(&google_and_iap(&TestKeys::shared().jwks(), policy)).unwrap());
    let assertion = TestKeys::shared().ec.sign(&GoogleClaims::iap_assertion("alice@example.com", IAP_AUDIENCE, T0).issued_ago(5).build()).unwrap();
    let request = |header: &str, value: String| HttpRequest {
        headers: vec![(":method".into(), "GET".into()), (":path".into(), "/admin".into()), (":authority".into(), "svc.example.com".into()), (header.into(), value)],
        ..HttpRequest::default()
    };
    assert_eq!(plugin.send(&request("x-goog-iap-jwt-assertion", assertion)).unwrap().status, 200);
    let id_token = signed(GoogleClaims::id_token("alice@example.com", AUDIENCE, T0).issued_ago(5));
    let exchange = plugin.send(&request("authorization", format!("Bearer {id_token}"))).unwrap();
    assert_eq!((exchange.status, error_code(&exchange).as_str()), (403, "not_allowed"));
}
