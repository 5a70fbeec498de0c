//! People signing in through wsgate in a real headless Chromium (WebDriver), through
//! real Envoy running the built .wasm, with the Google stand-in's sign-in page and
//! token endpoint: the `make run` stack itself (demo settings and policy). Run with
//! `make e2e` (needs Debian's chromium and chromium-driver, which it installs).

mod support;

use serde_json::{Value, json};
use support::*;
use wsgate_core::mint::SigningKey;
use wsgate_host_tests::demo::{self, Demo, DemoOptions};
use wsgate_host_tests::google::Fault;
use wsgate_host_tests::google_oidc::account_id;
use wsgate_host_tests::webdriver::Browser;

/// The `make run` stack, `changes` merged into its settings.
fn demo_stack(test: &str, changes: Value) -> Demo {
    let mut settings = serde_json::from_str::<Value>(&repo_file("envoy/demo-wsgate.template.json")).unwrap();
    wsgate_fixtures::merge_patch(&mut settings, &changes);
    demo::start(DemoOptions {
        stack: options(test, settings),
        policy: serde_json::from_str::<Value>(&repo_file("policies/demo.json")).unwrap(),
        google_port: 0,
        signing_key: SigningKey::generate_rs256("wsgate-demo-1").unwrap(),
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn browser(test: &str) -> Browser {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e").join(test);
    Browser::start(&dir).unwrap_or_else(|e| panic!("{e}"))
}

fn app(demo: &Demo, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", demo.stack.port())
}

/// The upstream's echo the page shows (the echo answers JSON, which Chromium shows as text).
fn echo(browser: &Browser) -> Value {
    let text = browser.text().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not the echo: {text}"))
}

/// At the stand-in's sign-in page, `email` clicked.
fn pick(browser: &Browser, email: &str) {
    assert!(browser.url().unwrap().contains("/o/oauth2/v2/auth?"), "at Google's sign-in page: {}", browser.url().unwrap());
    browser.click(&format!("#{}", account_id(email))).unwrap();
}

#[test]
#[ignore = "needs real Envoy, Chromium and the built .wasm: run `make e2e`"]
fn alice_signs_in_sees_her_identity_reloads_without_a_new_exchange_and_signs_out() {
    let demo = demo_stack("browser-alice", json!({}));
    let browser = browser("browser-alice");
    browser.open(&app(&demo, "/app/reports?q=1")).unwrap();
    pick(&browser, "alice@example.com");
    assert_eq!(browser.url().unwrap(), app(&demo, "/app/reports?q=1"), "back where she started");
    let seen = echo(&browser);
    assert_eq!(seen["headers"]["x-workspace-email"], "alice@example.com", "{seen}");
    assert_eq!(seen["headers"]["x-workspace-domain"], "example.com");
    assert!(seen["headers"].get("cookie").is_none(), "wsgate's cookies never reach the upstream: {seen}");
    assert_eq!(demo.google.code_exchanges(), 1);
    assert_eq!(browser.cookie_names().unwrap(), ["wsgate-session-0"], "only the session is left");

    browser.script("location.reload();", json!([])).unwrap();
    browser.open(&app(&demo, "/app/reports?q=1")).unwrap();
    assert_eq!(echo(&browser)["headers"]["x-workspace-email"], "alice@example.com");
    let from_page = browser.script_async("const done = arguments[0]; fetch('/app/data').then(r => r.json()).then(j => done(j.headers['x-workspace-email']), e => done(String(e)));").unwrap();
    assert_eq!(from_page, "alice@example.com", "the page's own fetch() carries the session");
    assert_eq!(demo.google.code_exchanges(), 1, "reloads use the session: no new code exchange");

    browser.open(&app(&demo, "/_wsgate/sign_out")).unwrap();
    assert!(browser.cookie_names().unwrap().is_empty());
    browser.open(&app(&demo, "/app/reports")).unwrap();
    assert!(browser.url().unwrap().contains("/o/oauth2/v2/auth?"), "asked to sign in again: {}", browser.url().unwrap());
    let lines = decision_lines(&demo.stack);
    assert!(lines.iter().any(|l| l["reason"] == "signed_in" && l["email"] == "alice@example.com" && l["credential"] == "session"), "{lines:?}");
    assert!(lines.iter().any(|l| l["reason"] == "signed_out"));
    assert!(demo.stack.envoy.counter_reaching("wasmcustom.wsgate.reason.signed_in", 1) >= 1);
}

#[test]
#[ignore = "needs real Envoy, Chromium and the built .wasm: run `make e2e`"]
fn bob_sees_the_refusal_page_and_a_fetch_without_a_session_gets_401_not_a_redirect() {
    let demo = demo_stack("browser-bob", json!({}));
    let browser = browser("browser-bob");
    browser.open(&app(&demo, "/healthz")).unwrap();
    let fetched = browser.script_async("const done = arguments[0]; fetch('/app/data').then(r => done([r.status, r.redirected, r.headers.get('www-authenticate')]), e => done(String(e)));").unwrap();
    assert_eq!(fetched, json!([401, false, "Bearer realm=\"wsgate-demo\""]), "an API call is never sent to a sign-in page");
    assert_eq!(demo.google.requests_to("/o/oauth2").len(), 0);

    browser.open(&app(&demo, "/app")).unwrap();
    pick(&browser, "bob@partner.example");
    let page = browser.text().unwrap();
    assert!(page.contains("Access denied") && page.contains("bob@partner.example") && page.contains("Sign out"), "{page}");
    assert_eq!(browser.script("return document.getElementById('reason').textContent;", json!([])).unwrap(), "not_allowed");
    // The page itself may run no script and fetch nothing (its CSP): ask from another.
    browser.open(&app(&demo, "/healthz")).unwrap();
    let status = browser.script_async("const done = arguments[0]; fetch('/app').then(r => done(r.status), e => done(String(e)));").unwrap();
    assert_eq!(status, 403, "signed in as bob: refused, not asked to sign in");
    browser.open(&app(&demo, "/app")).unwrap();
    browser.click("a[href='/_wsgate/sign_out']").unwrap();
    assert!(browser.cookie_names().unwrap().is_empty(), "the page's sign-out link works");
}

#[test]
#[ignore = "needs real Envoy, Chromium and the built .wasm: run `make e2e`"]
fn two_tabs_signing_in_at_once_both_succeed() {
    let demo = demo_stack("browser-tabs", json!({}));
    let browser = browser("browser-tabs");
    let first = browser.tab().unwrap();
    browser.open(&app(&demo, "/app/one")).unwrap();
    let second = browser.new_tab().unwrap();
    browser.open(&app(&demo, "/app/two")).unwrap();
    pick(&browser, "alice@example.com");
    assert_eq!(echo(&browser)["path"], "/app/two");
    browser.switch_to(&first).unwrap();
    pick(&browser, "alice@example.com");
    assert_eq!(echo(&browser)["path"], "/app/one", "the first tab's sign-in was not clobbered by the second's");
    assert_eq!(demo.google.code_exchanges(), 2);
    let _ = second;
}

#[test]
#[ignore = "needs real Envoy, Chromium and the built .wasm: run `make e2e`"]
fn a_session_past_its_lifetime_signs_in_again() {
    let demo = demo_stack("browser-lifetime", json!({"sign_in": {"session_lifetime_seconds": 10, "session_idle_seconds": 10}}));
    let browser = browser("browser-lifetime");
    browser.open(&app(&demo, "/app")).unwrap();
    pick(&browser, "alice@example.com");
    assert_eq!(echo(&browser)["headers"]["x-workspace-email"], "alice@example.com");
    std::thread::sleep(std::time::Duration::from_secs(11));
    browser.open(&app(&demo, "/app")).unwrap();
    pick(&browser, "alice@example.com");
    assert_eq!(demo.google.code_exchanges(), 2, "the expired session was not used");
}

#[test]
#[ignore = "needs real Envoy, Chromium and the built .wasm: run `make e2e`"]
fn an_open_redirect_target_is_refused_and_a_slow_token_endpoint_ends_the_sign_in() {
    let demo = demo_stack("browser-redirect", json!({"sign_in": {"paths": [], "token_endpoint": {"timeout_ms": 1000}}}));
    let browser = browser("browser-redirect");
    // Chromium sends `//evil.example/app` as the path: after sign-in the browser must
    // still be on this origin.
    browser.open(&app(&demo, "//evil.example/app")).unwrap();
    pick(&browser, "alice@example.com");
    let url = browser.url().unwrap();
    assert!(url.starts_with(&app(&demo, "/")), "never sent to another origin: {url}");

    browser.open(&app(&demo, "/_wsgate/sign_out")).unwrap();
    demo.google.set_fault("/token", Fault::Slow(std::time::Duration::from_secs(3)));
    browser.open(&app(&demo, "/app")).unwrap();
    pick(&browser, "alice@example.com");
    assert_eq!(browser.script("return document.getElementById('reason').textContent;", json!([])).unwrap(), "sign_in_exchange_failed", "{}", browser.text().unwrap());
    assert!(browser.cookie_names().unwrap().iter().all(|name| !name.contains("session")), "no session from a failed exchange");
}
