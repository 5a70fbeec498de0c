//! Browser sign-in through the real wsgate.wasm in the harness: the secrets read
//! from the VM's environment, random bytes from WASI, the code exchanged through the
//! token endpoint's cluster with scripted answers (good, 400, 500, none, malformed,
//! another nonce, another audience), the session used and its cookies kept from the
//! upstream. Run with `make harness` (needs the built .wasm in `WSGATE_WASM`).

mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use support::wasm::{T0, call_header, start_with_env};
use wsgate_core::mint::TestKeys;
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::configs::{AUDIENCE, BROWSER_CLIENT, TEST_CLIENT_SECRET, sign_in_config, sign_in_environment};
use wsgate_harness::plugin::{Exchange, HttpRequest, Plugin};
use wsgate_harness::state::ScriptedAnswer;

const TOKEN_CLUSTER: &str = "google_oauth";

fn plugin() -> Plugin {
    start_with_env(&serde_json::to_vec(&sign_in_config(&TestKeys::shared().jwks(), TOKEN_CLUSTER)).unwrap(), &sign_in_environment())
}

/// A navigation to `path` carrying `cookies`.
fn navigation(path: &str, cookies: &BTreeMap<String, String>) -> HttpRequest {
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), "GET".into()),
        (":path".into(), path.into()),
        (":authority".into(), "app.example.com".into()),
        (":scheme".into(), "https".into()),
        ("sec-fetch-mode".into(), "navigate".into()),
        ("accept".into(), "text/html".into()),
    ];
    if !cookies.is_empty() {
        headers.push(("cookie".into(), cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")));
    }
    HttpRequest { headers, ..HttpRequest::default() }
}

fn header(exchange: &Exchange, name: &str) -> Option<String> {
    exchange.response_headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// Applies the exchange's `Set-Cookie` headers to `jar`.
fn obey(jar: &mut BTreeMap<String, String>, exchange: &Exchange) {
    for (_, value) in exchange.response_headers.iter().filter(|(n, _)| n == "set-cookie") {
        let (name, cookie) = value.split(';').next().unwrap().split_once('=').unwrap();
        if value.contains("Max-Age=0") {
            jar.remove(name);
        } else {
            jar.insert(name.to_owned(), cookie.to_owned());
        }
    }
}

fn param(url: &str, name: &str) -> String {
    url.split(['?', '&']).find_map(|pair| pair.strip_prefix(&format!("{name}="))).unwrap().to_owned()
}

/// The token endpoint's answer with an ID token for `email`, `changes` overlaid.
fn id_token_answer(email: &str, nonce: &str, changes: Value) -> ScriptedAnswer {
    let claims = GoogleClaims::id_token(email, BROWSER_CLIENT, T0).issued_ago(5).hd(Some("example.com")).set("nonce", nonce).build();
    let token = TestKeys::shared().rsa.sign(&wsgate_fixtures::patched(claims, &changes)).unwrap();
    answer(200, &json!({"access_token": "ya29.x", "expires_in": 3599, "token_type": "Bearer", "id_token": token}).to_string())
}

fn answer(status: u16, body: &str) -> ScriptedAnswer {
    let headers = vec![(":status".to_owned(), status.to_string().into_bytes()), ("content-type".to_owned(), b"application/json; charset=utf-8".to_vec())];
    ScriptedAnswer { response: Some((headers, body.as_bytes().to_vec())) }
}

/// Starts a sign-in at `/app/reports`, then comes back to the callback with the
/// token endpoint answering `script(nonce)`. Returns the callback's exchange and the jar.
fn sign_in(plugin: &mut Plugin, script: impl Fn(&str) -> Option<ScriptedAnswer>) -> (Exchange, BTreeMap<String, String>) {
    let mut jar = BTreeMap::new();
    let start = plugin.send(&navigation("/app/reports", &jar)).unwrap();
    assert_eq!(start.status, 302, "{:?}", start.local_reply);
    obey(&mut jar, &start);
    let google = header(&start, "location").unwrap();
    if let Some(answer) = script(&param(&google, "nonce")) {
        plugin.script_http_call(TOKEN_CLUSTER, answer);
    }
    let callback = plugin.send(&navigation(&format!("/_wsgate/callback?code=4%2F0c&state={}", param(&google, "state")), &jar)).unwrap();
    obey(&mut jar, &callback);
    (callback, jar)
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_person_signs_in_through_the_wasm_and_the_session_carries_them() {
    let mut plugin = plugin();
    let (callback, mut jar) = sign_in(&mut plugin, |nonce| Some(id_token_answer("alice@example.com", nonce, json!({}))));
    assert_eq!((callback.status, header(&callback, "location").as_deref()), (302, Some("/app/reports")), "{:?}", callback.local_reply);
    let [call] = callback.http_calls.as_slice() else { panic!("one code exchange: {:?}", callback.http_calls) };
    assert_eq!((call.upstream.as_str(), call_header(call, ":method").as_deref(), call_header(call, ":path").as_deref()), (TOKEN_CLUSTER, Some("POST"), Some("/token")));
    assert_eq!(call_header(call, "content-type").as_deref(), Some("application/x-www-form-urlencoded"));
    let form = String::from_utf8(call.body.clone()).unwrap();
    assert!(form.contains("grant_type=authorization_code") && form.contains("code=4%2F0c") && form.contains(&format!("client_secret={TEST_CLIENT_SECRET}")) && form.contains("code_verifier="), "{form}");
    assert!(jar.contains_key("__Host-wsgate-session-0") && jar.len() == 1, "{jar:?}");
    assert!(!callback.logs.iter().any(|line| line.message.contains(TEST_CLIENT_SECRET)), "the secret is never logged");

    jar.insert("theme".into(), "dark".into());
    let page = plugin.send(&navigation("/app/reports", &jar)).unwrap();
    assert_eq!(page.status, 200);
    assert!(page.http_calls.is_empty(), "no second exchange");
    let upstream = page.upstream_request.unwrap();
    let forwarded = |name: &str| upstream.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!((forwarded("x-workspace-email"), forwarded("cookie")), (Some("alice@example.com"), Some("theme=dark")));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn every_bad_token_endpoint_answer_ends_the_sign_in_with_a_page_and_no_session() {
    type Script = Box<dyn Fn(&str) -> Option<ScriptedAnswer>>;
    let cases: Vec<(&str, Script, u16, &str)> = vec![
        ("400 invalid_grant", Box::new(|_| Some(answer(400, r#"{"error":"invalid_grant","error_description":"Bad Request"}"#))), 502, "sign_in_exchange_failed"),
        ("500", Box::new(|_| Some(answer(500, "backend error"))), 502, "sign_in_exchange_failed"),
        ("no answer: reset, or too slow for the timeout", Box::new(|_| Some(ScriptedAnswer { response: None })), 502, "sign_in_exchange_failed"),
        ("malformed", Box::new(|_| Some(answer(200, "{\"id_token\": 7"))), 502, "sign_in_exchange_failed"),
        ("another nonce", Box::new(|_| Some(id_token_answer("alice@example.com", "not-this-one", json!({})))), 401, "sign_in_token_mismatch"),
        ("another audience", Box::new(|nonce| Some(id_token_answer("alice@example.com", nonce, json!({"aud": AUDIENCE})))), 401, "sign_in_token_mismatch"),
    ];
    for (case, script, status, reason) in cases {
        let mut plugin = plugin();
        let (callback, jar) = sign_in(&mut plugin, script);
        let reply = callback.local_reply.as_ref().unwrap_or_else(|| panic!("{case}: answered here"));
        assert_eq!(callback.status, status, "{case}");
        assert!(String::from_utf8_lossy(&reply.body).contains(reason), "{case}");
        assert!(jar.is_empty(), "{case}: no session and no flow left: {jar:?}");
        assert!(callback.logs.iter().any(|l| l.message.contains(&format!("\"reason\":\"{reason}\""))), "{case}: the decision is logged");
    }
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_missing_secret_refuses_the_configuration_naming_the_variable() {
    let config = serde_json::to_vec(&sign_in_config(&TestKeys::shared().jwks(), TOKEN_CLUSTER)).unwrap();
    let error = support::wasm::harness().start(&config, T0 * 1_000_000_000).err().unwrap().to_string();
    assert!(error.contains("sign_in.client_secret_env: the VM's environment has no `WSGATE_CLIENT_SECRET`"), "{error}");
}
