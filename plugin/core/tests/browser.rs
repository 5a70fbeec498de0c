//! People in browsers, decided by the gate: a navigation without a session is sent
//! to Google (PKCE, `state` bound to its own cookie, `nonce`), the callback's code
//! exchange answered by a scripted token endpoint, the ID token checked as this
//! sign-in's, the session sealed into cookies and used, refreshed, expired, rotated,
//! tampered with and signed out of; API calls never redirected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use support::*;
use wsgate_core::mint::{SigningKey, TestKeys};
use wsgate_core::session::RandomSource;
use wsgate_core::session::exchange::ExchangeAnswer;
use wsgate_core::{Action, Gate, Reason, RequestSnapshot, Verdict};
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::configs::{BROWSER_CLIENT, COOKIE_KEYS_ENV, NEXT_SESSION_KEY, REDIRECT_URI, TEST_CLIENT_SECRET, TEST_SESSION_KEY, sign_in_config, sign_in_environment};

const HOST: &str = "app.example.com";

fn gate_with(config: &Value, environment: &[(String, String)]) -> Gate {
    let env = |name: &str| environment.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut gate = Gate::from_json_with_env(config.to_string().as_bytes(), &env).unwrap();
    let mut counter = 0u8;
    // Distinct bytes every draw; the tests need uniqueness, not secrecy.
    gate.set_random_source(RandomSource::new(move |bytes| {
        for b in bytes.iter_mut() {
            counter = counter.wrapping_add(37);
            *b = counter;
        }
        true
    }));
    gate
}

fn config() -> Value {
    sign_in_config(&TestKeys::shared().jwks(), "google_oauth")
}

fn gate() -> Gate {
    gate_with(&config(), &sign_in_environment())
}

/// A browser: its cookie jar, and the Set-Cookie headers it obeys.
#[derive(Default, Clone)]
struct Browser {
    jar: BTreeMap<String, String>,
}

impl Browser {
    fn request(&self, method: &str, path: &str, mode: &str) -> RequestSnapshot {
        let mut request = RequestSnapshot::new(method, HOST, path).with_header("sec-fetch-mode", mode).with_header("accept", "text/html").with_header("x-request-id", "req-1");
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
            request = request.with_header("cookie", cookies.join("; "));
        }
        request
    }

    fn navigate(&mut self, gate: &mut Gate, path: &str, now: u64) -> Verdict {
        let verdict = gate.decide(&self.request("GET", path, "navigate"), ms(now));
        self.obey(&verdict);
        verdict
    }

    fn obey(&mut self, verdict: &Verdict) {
        let headers = match &verdict.action {
            Action::Respond(response) => response.headers.clone(),
            Action::Forward { .. } => verdict.response_headers.clone(),
        };
        for (_, value) in headers.iter().filter(|(n, _)| n == "set-cookie") {
            let pair = value.split(';').next().unwrap();
            let (name, cookie) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), cookie.to_owned());
            }
        }
    }

    /// The callback Google sends the browser to, answered by the token endpoint with
    /// `answer` (built from the authorization URL's parameters).
    fn come_back(&mut self, gate: &mut Gate, location: &str, now: u64, answer: impl Fn(&BTreeMap<String, String>) -> ExchangeAnswer) -> (Verdict, String) {
        let params = query(location);
        let path = format!("/_wsgate/callback?code=4%2F0code&state={}&scope=email+openid", params["state"]);
        let asked = gate.decide(&self.request("GET", &path, "navigate"), ms(now));
        let exchange = asked.awaiting_exchange.clone().expect("the callback asks for the code exchange");
        let body = String::from_utf8(exchange.body.clone()).unwrap();
        let verdict = gate.decide(&self.request("GET", &path, "navigate").with_exchange(answer(&params)), ms(now));
        self.obey(&verdict);
        (verdict, body)
    }
}

fn query(url: &str) -> BTreeMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, v)| (n.to_owned(), v.replace("%40", "@").replace("%3A", ":").replace("%2F", "/").replace('+', " ")))
        .collect()
}

fn location(verdict: &Verdict) -> String {
    response(verdict).headers.iter().find(|(n, _)| n == "location").map(|(_, v)| v.clone()).expect("a redirect")
}

fn response(verdict: &Verdict) -> &wsgate_core::LocalResponse {
    match &verdict.action {
        Action::Respond(response) => response,
        Action::Forward { .. } => panic!("forwarded, not answered: {:?}", verdict.log_line),
    }
}

fn status(verdict: &Verdict) -> u16 {
    match &verdict.action {
        Action::Forward { .. } => 200,
        Action::Respond(response) => response.status,
    }
}

fn forwarded_header<'a>(verdict: &'a Verdict, name: &str) -> Option<&'a str> {
    match &verdict.action {
        Action::Forward { set, .. } => set.iter().find(|(n, _)| n == name).map(|(_, v)| std::str::from_utf8(v).unwrap()),
        Action::Respond(_) => None,
    }
}

/// The token endpoint's answer: an ID token for `email` with the sign-in's nonce,
/// `changes` overlaid.
fn id_token_answer(email: &str, changes: Value) -> impl Fn(&BTreeMap<String, String>) -> ExchangeAnswer {
    let email = email.to_owned();
    move |params| {
        let domain = email.split('@').nth(1).unwrap();
        let claims = GoogleClaims::id_token(&email, BROWSER_CLIENT, NOW).issued_ago(5).hd(Some(domain)).set("azp", BROWSER_CLIENT).set("nonce", params["nonce"].as_str()).build();
        let token = TestKeys::shared().rsa.sign(&wsgate_fixtures::patched(claims, &changes)).unwrap();
        ExchangeAnswer { status: Some(200), body: json!({"access_token": "ya29.x", "expires_in": 3599, "token_type": "Bearer", "id_token": token}).to_string().into_bytes() }
    }
}

/// Signs `email` in through `/app/reports`; the browser holds the session after.
fn signed_in(gate: &mut Gate, email: &str) -> Browser {
    let mut browser = Browser::default();
    let start = browser.navigate(gate, "/app/reports", NOW);
    let (verdict, _) = browser.come_back(gate, &location(&start), NOW, id_token_answer(email, json!({})));
    assert!(matches!(verdict.reason, Reason::SignedIn | Reason::NotAllowed | Reason::DeniedByRule), "{:?}", verdict.log_line);
    browser
}

fn log(verdict: &Verdict) -> Value {
    serde_json::from_str(verdict.log_line.as_deref().unwrap()).unwrap()
}

#[test]
fn a_navigation_without_a_session_goes_to_google_with_pkce_state_and_nonce() {
    let mut browser = Browser::default();
    let verdict = browser.navigate(&mut gate(), "/app/reports?q=1", NOW);
    assert_eq!((verdict.reason, status(&verdict)), (Reason::SignInStarted, 302));
    let url = location(&verdict);
    assert!(url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=444444444444-app"), "{url}");
    let params = query(&url);
    assert_eq!((params["scope"].as_str(), params["code_challenge_method"].as_str(), params["redirect_uri"].as_str()), ("openid email", "S256", REDIRECT_URI));
    assert_eq!((params["state"].len(), params["nonce"].len(), params["code_challenge"].len()), (22, 22, 43));
    let flow_cookie = format!("__Host-wsgate-flow-{}", params["state"]);
    assert!(browser.jar.contains_key(&flow_cookie), "the sign-in's own cookie: {:?}", browser.jar.keys());
    let set_cookie = &response(&verdict).headers.iter().find(|(n, _)| n == "set-cookie").unwrap().1;
    assert!(set_cookie.ends_with("; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure"), "{set_cookie}");
    assert_eq!(log(&verdict)["reason"], "sign_in_started");
}

#[test]
fn the_callback_exchanges_the_code_with_the_verifier_and_sends_the_person_back_signed_in() {
    let mut gate = gate();
    let mut browser = Browser::default();
    let start = browser.navigate(&mut gate, "/app/reports?q=1", NOW);
    let challenge = query(&location(&start))["code_challenge"].clone();
    let (verdict, body) = browser.come_back(&mut gate, &location(&start), NOW, id_token_answer("alice@example.com", json!({})));
    let form = query(&format!("?{body}"));
    assert_eq!((form["grant_type"].as_str(), form["code"].as_str(), form["client_id"].as_str()), ("authorization_code", "4/0code", BROWSER_CLIENT));
    assert_eq!((form["client_secret"].as_str(), form["redirect_uri"].as_str()), (TEST_CLIENT_SECRET, REDIRECT_URI));
    assert_eq!(URL_SAFE_NO_PAD.encode(Sha256::digest(form["code_verifier"].as_bytes())), challenge, "PKCE S256");
    assert_eq!((verdict.reason, status(&verdict), location(&verdict).as_str()), (Reason::SignedIn, 302, "/app/reports?q=1"));
    assert!(browser.jar.contains_key("__Host-wsgate-session-0"));
    assert!(!browser.jar.keys().any(|name| name.contains("flow")), "the flow cookie is cleared: {:?}", browser.jar.keys());
    let line = log(&verdict);
    assert_eq!((line["reason"].as_str(), line["email"].as_str(), line["credential"].as_str(), line["path"].as_str()), (Some("signed_in"), Some("alice@example.com"), Some("session"), Some("/app/reports?q=1")));
    assert!(!verdict.log_line.as_deref().unwrap().contains(TEST_CLIENT_SECRET), "the secret is never logged");

    let page = browser.navigate(&mut gate, "/app/reports?q=1", NOW + 5);
    assert_eq!(page.reason, Reason::Allowed, "{:?}", page.log_line);
    assert_eq!(forwarded_header(&page, "x-workspace-email"), Some("alice@example.com"));
    assert_eq!(forwarded_header(&page, "x-workspace-domain"), Some("example.com"));
    let Action::Forward { remove, .. } = &page.action else { panic!() };
    assert!(remove.contains(&"cookie".to_owned()), "the gate's cookies never reach the upstream");
    assert!(page.awaiting_exchange.is_none(), "a session needs no new exchange");
    assert_eq!(log(&page)["credential"], "session");
}

#[test]
fn a_signed_in_persons_groups_decide_like_a_bearer_callers() {
    let mut gate = gate();
    let mut alice = signed_in(&mut gate, "alice@example.com");
    let admin = alice.navigate(&mut gate, "/admin", NOW + 1);
    assert_eq!((admin.reason, forwarded_header(&admin, "x-workspace-groups")), (Reason::Allowed, Some("admins@example.com")));
    let mut carol = signed_in(&mut gate, "carol@example.com");
    let refused = carol.navigate(&mut gate, "/admin", NOW + 1);
    assert_eq!((refused.reason, status(&refused)), (Reason::NotAllowed, 403));
}

#[test]
fn other_cookies_pass_and_only_the_gates_are_removed() {
    let mut gate = gate();
    let mut browser = signed_in(&mut gate, "alice@example.com");
    browser.jar.insert("theme".into(), "dark".into());
    let page = browser.navigate(&mut gate, "/app", NOW + 1);
    assert_eq!(forwarded_header(&page, "cookie"), Some("theme=dark"));
}

#[test]
fn api_calls_and_token_callers_are_never_redirected() {
    let mut gate = gate();
    let browser = Browser::default();
    for request in [
        browser.request("GET", "/app/data", "cors"),
        browser.request("POST", "/app/form", "navigate"),
        RequestSnapshot::new("GET", HOST, "/app/data").with_header("accept", "application/json"),
    ] {
        let verdict = gate.decide(&request, ms(NOW));
        assert_eq!((verdict.reason, status(&verdict)), (Reason::MissingToken, 401));
        assert!(response(&verdict).headers.iter().any(|(n, v)| n == "www-authenticate" && v.starts_with("Bearer realm=")));
    }
    let expired = rsa_token(&GoogleClaims::id_token("alice@example.com", AUDIENCE, NOW).issued_ago(7200).build());
    let bad_token = browser.request("GET", "/app", "navigate").with_header("authorization", format!("Bearer {expired}"));
    assert_eq!(gate.decide(&bad_token, ms(NOW)).reason, Reason::TokenExpired, "a bad token is a 401, not a sign-in");
    let outside = gate.decide(&browser.request("GET", "/other", "navigate"), ms(NOW));
    assert_eq!(outside.reason, Reason::MissingToken, "sign-in applies on its routes only");
}

#[test]
fn a_refused_person_sees_a_page_with_who_they_are_and_a_sign_out_link_and_api_calls_keep_json() {
    let mut gate = gate();
    let mut bob = Browser::default();
    let start = bob.navigate(&mut gate, "/app", NOW);
    let (verdict, _) = bob.come_back(&mut gate, &location(&start), NOW, id_token_answer("bob@partner.example", json!({})));
    assert_eq!((verdict.reason, status(&verdict)), (Reason::NotAllowed, 403));
    let page = &response(&verdict).body;
    assert!(page.contains("bob@partner.example") && page.contains("href=\"/_wsgate/sign_out\""), "{page}");
    assert!(!page.contains("example.com</li>"), "no groups named unless the operator opts in");
    assert!(bob.jar.contains_key("__Host-wsgate-session-0"), "signed in, though refused: the page says as whom");
    let again = bob.navigate(&mut gate, "/app", NOW + 1);
    assert_eq!((status(&again), response(&again).headers[0].1.as_str()), (403, "text/html; charset=utf-8"));
    let denied = bob.navigate(&mut gate, "/admin", NOW + 1);
    assert_eq!(denied.reason, Reason::DeniedByRule);
    let api = gate.decide(&bob.request("GET", "/app", "cors"), ms(NOW + 1));
    assert_eq!((status(&api), response(&api).body.as_str()), (403, r#"{"error":"not_allowed","request_id":"req-1"}"#));
}

#[test]
fn the_refusal_page_names_the_groups_only_when_the_operator_opts_in() {
    let mut config = config();
    config["sign_in"]["refusal_page_names_groups"] = json!(true);
    let mut gate = gate_with(&config, &sign_in_environment());
    let mut carol = signed_in(&mut gate, "carol@example.com");
    let refused = carol.navigate(&mut gate, "/admin", NOW + 1);
    assert!(response(&refused).body.contains("<li>admins@example.com</li>"), "{}", response(&refused).body);
}

#[test]
fn a_failed_code_exchange_or_a_token_not_of_this_sign_in_ends_it_with_a_page() {
    let answer = |status: Option<u16>, body: &str| {
        let body = body.to_owned();
        move |_: &BTreeMap<String, String>| ExchangeAnswer { status, body: body.clone().into_bytes() }
    };
    type Answer = Box<dyn Fn(&BTreeMap<String, String>) -> ExchangeAnswer>;
    let cases: Vec<(&str, Answer, Reason)> = vec![
        ("400 invalid_grant", Box::new(answer(Some(400), r#"{"error":"invalid_grant"}"#)), Reason::SignInExchangeFailed),
        ("500", Box::new(answer(Some(500), "oops")), Reason::SignInExchangeFailed),
        ("no answer (timeout)", Box::new(answer(None, "")), Reason::SignInExchangeFailed),
        ("malformed", Box::new(answer(Some(200), "{\"id_token\":")), Reason::SignInExchangeFailed),
        ("no id_token", Box::new(answer(Some(200), r#"{"access_token":"ya29"}"#)), Reason::SignInExchangeFailed),
        ("wrong nonce", Box::new(id_token_answer("alice@example.com", json!({"nonce": "another"}))), Reason::SignInTokenMismatch),
        ("no nonce", Box::new(id_token_answer("alice@example.com", json!({"nonce": null}))), Reason::SignInTokenMismatch),
        ("wrong audience", Box::new(id_token_answer("alice@example.com", json!({"aud": AUDIENCE}))), Reason::SignInTokenMismatch),
        ("unknown audience", Box::new(id_token_answer("alice@example.com", json!({"aud": "other.apps.googleusercontent.com"}))), Reason::AudienceNotAllowed),
        ("expired", Box::new(id_token_answer("alice@example.com", json!({"iat": NOW - 7200, "exp": NOW - 3600}))), Reason::TokenExpired),
        ("unverified email", Box::new(id_token_answer("alice@example.com", json!({"email_verified": false}))), Reason::EmailNotVerified),
        ("forged", Box::new(|params: &BTreeMap<String, String>| {
            let claims = GoogleClaims::id_token("alice@example.com", BROWSER_CLIENT, NOW).set("nonce", params["nonce"].as_str()).build();
            let token = SigningKey::generate_rs256("rsa-1").unwrap().sign(&claims).unwrap();
            ExchangeAnswer { status: Some(200), body: json!({"id_token": token}).to_string().into_bytes() }
        }), Reason::BadSignature),
    ];
    for (case, answer, reason) in cases {
        let mut gate = gate();
        let mut browser = Browser::default();
        let start = browser.navigate(&mut gate, "/app", NOW);
        let (verdict, _) = browser.come_back(&mut gate, &location(&start), NOW, answer);
        assert_eq!(verdict.reason, reason, "{case}");
        let response = response(&verdict);
        assert_eq!((response.status, response.headers[0].1.as_str()), (reason.status(), "text/html; charset=utf-8"), "{case}");
        assert!(response.body.contains(reason.code()), "{case}: {}", response.body);
        assert!(!browser.jar.keys().any(|n| n.contains("session") || n.contains("flow")), "{case}: no session, and the flow is over: {:?}", browser.jar.keys());
    }
}

#[test]
fn a_callback_this_browser_did_not_start_is_refused_before_any_exchange() {
    let mut gate = gate();
    let mut browser = Browser::default();
    let start = browser.navigate(&mut gate, "/app", NOW);
    let state = query(&location(&start))["state"].clone();
    let callback = |state: &str| format!("/_wsgate/callback?code=c&state={state}");
    let stranger = Browser::default();
    let mut tampered = browser.clone();
    tampered.jar.values_mut().for_each(|v| v.replace_range(10..11, if &v[10..11] == "A" { "B" } else { "A" }));
    let cases = [
        ("another browser (login CSRF)", stranger.request("GET", &callback(&state), "navigate"), NOW),
        ("another state", browser.request("GET", &callback("AAAAAAAAAAAAAAAAAAAAAA"), "navigate"), NOW),
        ("a state naming any cookie", browser.request("GET", &callback("x; evil=1"), "navigate"), NOW),
        ("a tampered flow cookie", tampered.request("GET", &callback(&state), "navigate"), NOW),
        ("a stale sign-in", browser.request("GET", &callback(&state), "navigate"), NOW + 601),
        ("no code", browser.request("GET", &format!("/_wsgate/callback?state={state}"), "navigate"), NOW),
        ("a doubled code", browser.request("GET", &format!("/_wsgate/callback?code=a&code=b&state={state}"), "navigate"), NOW),
    ];
    for (case, request, now) in cases {
        let verdict = gate.decide(&request, ms(now));
        assert_eq!((verdict.reason, status(&verdict), verdict.awaiting_exchange.is_none()), (Reason::SignInStateInvalid, 400, true), "{case}");
    }
    let cancelled = gate.decide(&browser.request("GET", &format!("/_wsgate/callback?error=access_denied&state={state}"), "navigate"), ms(NOW));
    assert_eq!((cancelled.reason, status(&cancelled)), (Reason::SignInCancelled, 401));
}

#[test]
fn two_tabs_signing_in_at_once_both_finish() {
    let mut gate = gate();
    let mut browser = Browser::default();
    let first = location(&browser.navigate(&mut gate, "/app/one", NOW));
    let second = location(&browser.navigate(&mut gate, "/app/two", NOW));
    assert_eq!(browser.jar.len(), 2, "one flow cookie per tab");
    let (done, _) = browser.come_back(&mut gate, &second, NOW, id_token_answer("alice@example.com", json!({})));
    assert_eq!(location(&done), "/app/two");
    let (done, _) = browser.come_back(&mut gate, &first, NOW + 2, id_token_answer("alice@example.com", json!({})));
    assert_eq!((done.reason, location(&done).as_str()), (Reason::SignedIn, "/app/one"));
}

#[test]
fn a_session_ends_at_its_lifetime_or_when_idle_and_is_refreshed_while_used() {
    let mut config = config();
    config["sign_in"]["session_lifetime_seconds"] = json!(3600);
    config["sign_in"]["session_idle_seconds"] = json!(600);
    let mut gate = gate_with(&config, &sign_in_environment());
    let mut browser = signed_in(&mut gate, "alice@example.com");
    let fresh = browser.navigate(&mut gate, "/app", NOW + 10);
    assert!(fresh.response_headers.is_empty(), "no refresh yet");
    let idle = browser.clone().navigate(&mut gate, "/app", NOW + 600);
    assert_eq!(idle.reason, Reason::SignInStarted, "idle ten minutes");
    let mut active = browser.clone();
    for minute in 1..=9 {
        let page = active.navigate(&mut gate, "/app", NOW + minute * 400);
        if minute * 400 < 3600 {
            assert_eq!(page.reason, Reason::Allowed, "used every 400 s: refreshed, at {}", minute * 400);
            assert!(page.response_headers.iter().any(|(n, v)| n == "set-cookie" && v.starts_with("__Host-wsgate-session-0=")));
        } else {
            assert_eq!(page.reason, Reason::SignInStarted, "an hour after sign-in, however active");
        }
    }
}

#[test]
fn a_tampered_truncated_or_foreign_session_is_no_session() {
    let mut gate = gate();
    let browser = signed_in(&mut gate, "alice@example.com");
    let value = browser.jar["__Host-wsgate-session-0"].clone();
    let foreign = {
        let mut other = gate_with(&config(), &[(wsgate_fixtures::configs::CLIENT_SECRET_ENV.into(), "s".into()), (COOKIE_KEYS_ENV.into(), NEXT_SESSION_KEY.into())]);
        signed_in(&mut other, "alice@example.com").jar["__Host-wsgate-session-0"].clone()
    };
    let mut flipped = value.clone().into_bytes();
    flipped[30] = if flipped[30] == b'A' { b'B' } else { b'A' };
    for (case, forged) in [("flipped", String::from_utf8(flipped).unwrap()), ("truncated", value[..value.len() - 4].to_owned()), ("foreign key", foreign), ("garbage", "%%%".into()), ("empty", String::new())] {
        let mut forger = Browser::default();
        forger.jar.insert("__Host-wsgate-session-0".into(), forged);
        let verdict = forger.navigate(&mut gate, "/app", NOW + 1);
        assert_eq!(verdict.reason, Reason::SignInStarted, "{case}");
        let api = gate.decide(&forger.request("GET", "/app", "cors"), ms(NOW + 1));
        assert_eq!(api.reason, Reason::MissingToken, "{case}");
    }
    let mut doubled = browser.clone();
    doubled.jar.insert("__Host-wsgate-session-0 ".into(), value);
    assert_eq!(doubled.navigate(&mut gate, "/app", NOW + 1).reason, Reason::SignInStarted, "a chunk sent twice is no session");
}

#[test]
fn a_new_key_rolls_in_without_signing_anyone_out() {
    let mut gate = gate();
    let browser = signed_in(&mut gate, "alice@example.com");
    let keys = |value: &str| vec![(wsgate_fixtures::configs::CLIENT_SECRET_ENV.into(), TEST_CLIENT_SECRET.into()), (COOKIE_KEYS_ENV.into(), value.to_owned())];
    let mut rolled = gate_with(&config(), &keys(&format!("{NEXT_SESSION_KEY}, {TEST_SESSION_KEY}")));
    assert_eq!(browser.clone().navigate(&mut rolled, "/app", NOW + 1).reason, Reason::Allowed);
    let mut retired = gate_with(&config(), &keys(NEXT_SESSION_KEY));
    assert_eq!(browser.clone().navigate(&mut retired, "/app", NOW + 1).reason, Reason::SignInStarted);
}

#[test]
fn sign_out_clears_the_session_and_sends_the_browser_on() {
    let mut gate = gate();
    let mut browser = signed_in(&mut gate, "alice@example.com");
    let out = browser.navigate(&mut gate, "/_wsgate/sign_out", NOW + 1);
    assert_eq!((out.reason, location(&out).as_str()), (Reason::SignedOut, "/"));
    assert!(browser.jar.is_empty(), "{:?}", browser.jar);
    assert_eq!(browser.navigate(&mut gate, "/app", NOW + 2).reason, Reason::SignInStarted);
}

#[test]
fn the_browser_only_ever_returns_to_a_path_of_this_origin() {
    let mut config = config();
    config["sign_in"]["paths"] = json!([]);
    config["policy"]["rules"][2]["match"]["paths"] = json!([{"prefix": "/"}]);
    let mut gate = gate_with(&config, &sign_in_environment());
    let mut returned_to = Vec::new();
    for asked in ["//evil.example/x", "/\\evil.example", "/app/a?next=https://evil.example", "/%2F%2Fevil.example"] {
        let mut browser = Browser::default();
        let start = browser.navigate(&mut gate, asked, NOW);
        if start.reason != Reason::SignInStarted {
            // A path the gate refuses as ambiguous never starts a sign-in.
            assert_eq!(start.reason, Reason::AmbiguousPath, "{asked}");
            continue;
        }
        let (done, _) = browser.come_back(&mut gate, &location(&start), NOW, id_token_answer("alice@example.com", json!({})));
        returned_to.push((asked, location(&done)));
    }
    assert_eq!(returned_to, [("//evil.example/x", "/".to_owned()), ("/app/a?next=https://evil.example", "/app/a?next=https://evil.example".to_owned())]);
}

#[test]
fn sign_in_configuration_is_refused_naming_the_field_and_never_showing_a_secret() {
    let errors = |config: &Value, environment: &[(String, String)]| {
        let env = |name: &str| environment.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        Gate::from_json_with_env(config.to_string().as_bytes(), &env).unwrap_err().to_string()
    };
    let message = errors(&config(), &[]);
    assert!(message.contains("sign_in.client_secret_env: the VM's environment has no `WSGATE_CLIENT_SECRET`"), "{message}");
    assert!(message.contains("sign_in.cookie_keys_env: the VM's environment has no `WSGATE_COOKIE_KEYS`"), "{message}");
    let short_key = vec![(wsgate_fixtures::configs::CLIENT_SECRET_ENV.into(), "s".into()), (COOKIE_KEYS_ENV.into(), "c2hvcnQta2V5".into())];
    let message = errors(&config(), &short_key);
    assert!(message.contains("key 1 of `WSGATE_COOKIE_KEYS` is not 32 bytes") && !message.contains("c2hvcnQta2V5"), "{message}");
    let mut other_client = config();
    other_client["sign_in"]["client_id"] = json!("555-other.apps.googleusercontent.com");
    assert!(errors(&other_client, &sign_in_environment()).contains("sign_in.provider: `google` must list `sign_in.client_id` in its audiences"));
    let mut prefixed = config();
    prefixed["sign_in"]["cookie_name"] = json!("__Host-x");
    assert!(errors(&prefixed, &sign_in_environment()).contains("sign_in.cookie_name"));
    let mut relative = config();
    relative["sign_in"]["redirect_uri"] = json!("/_wsgate/callback");
    assert!(errors(&relative, &sign_in_environment()).contains("sign_in.redirect_uri"));
    let mut away = config();
    away["sign_in"]["signed_out_url"] = json!("//evil.example");
    assert!(errors(&away, &sign_in_environment()).contains("sign_in.signed_out_url"));
    let no_env = wsgate_core::Settings::from_json(config().to_string().as_bytes()).unwrap_err().to_string();
    assert!(no_env.contains("WSGATE_CLIENT_SECRET"), "without an environment the secrets are missing: {no_env}");
}

#[test]
fn a_plain_http_demo_on_localhost_alone_may_drop_secure_and_the_host_prefix() {
    let mut config = config();
    config["sign_in"]["secure_cookies"] = json!(false);
    let error = Gate::from_json_with_env(config.to_string().as_bytes(), &|name| sign_in_environment().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)).unwrap_err().to_string();
    assert!(error.contains("sign_in.secure_cookies: may be false only for a redirect_uri on localhost"), "{error}");
    config["sign_in"]["redirect_uri"] = json!("http://127.0.0.1:8080/_wsgate/callback");
    let mut gate = gate_with(&config, &sign_in_environment());
    let request = RequestSnapshot::new("GET", "127.0.0.1:8080", "/app").with_header("sec-fetch-mode", "navigate");
    let start = gate.decide(&request, ms(NOW));
    let set_cookie = &response(&start).headers.iter().find(|(n, _)| n == "set-cookie").expect("a sign-in started").1;
    assert!(set_cookie.starts_with("wsgate-flow-") && !set_cookie.contains("Secure"), "{set_cookie}");
}

#[test]
fn sign_in_starts_only_on_the_redirect_uris_host_where_its_cookie_comes_back() {
    let mut gate = gate();
    let request = RequestSnapshot::new("GET", "other.example.com", "/app").with_header("sec-fetch-mode", "navigate");
    let verdict = gate.decide(&request, ms(NOW));
    assert_eq!((verdict.reason, status(&verdict)), (Reason::MissingToken, 401), "no endless loop through Google");
    let upper = RequestSnapshot::new("GET", "APP.example.com", "/app").with_header("sec-fetch-mode", "navigate");
    assert_eq!(gate.decide(&upper, ms(NOW)).reason, Reason::SignInStarted, "hosts compare without case");
}

#[test]
fn a_session_does_not_authenticate_writes_or_websockets_from_other_origins() {
    let mut gate = gate();
    let browser = signed_in(&mut gate, "alice@example.com");
    let with = |method: &str, headers: &[(&str, &str)]| headers.iter().fold(browser.request(method, "/app/items", "cors"), |r, (n, v)| r.with_header(n, v));
    let sibling_post = gate.decide(&with("POST", &[("sec-fetch-site", "same-site")]), ms(NOW + 1));
    assert_eq!((sibling_post.reason, status(&sibling_post)), (Reason::MissingToken, 401), "a sibling subdomain's form post");
    let socket = gate.decide(&with("GET", &[("sec-fetch-site", "same-site"), ("upgrade", "websocket")]), ms(NOW + 1));
    assert_eq!(socket.reason, Reason::MissingToken, "a sibling's WebSocket");
    assert_eq!(gate.decide(&with("POST", &[("sec-fetch-site", "same-origin")]), ms(NOW + 1)).reason, Reason::Allowed, "the app's own page");
    assert_eq!(gate.decide(&with("GET", &[("sec-fetch-site", "same-site")]), ms(NOW + 1)).reason, Reason::Allowed, "reads are what Lax allows");
}

#[test]
fn a_session_opens_only_for_the_sign_in_configuration_that_sealed_it() {
    let mut gate = gate();
    let browser = signed_in(&mut gate, "alice@example.com");
    let mut stricter = config();
    stricter["sign_in"]["hosted_domain"] = json!("corp.example");
    let mut other = gate_with(&stricter, &sign_in_environment());
    assert_eq!(browser.clone().navigate(&mut other, "/app", NOW + 1).reason, Reason::SignInStarted, "same keys, another hosted domain");
}

#[test]
fn abandoned_sign_ins_never_pile_up_past_a_few_cookies() {
    let mut gate = gate();
    let mut browser = Browser::default();
    for i in 0..10 {
        browser.navigate(&mut gate, &format!("/app/{i}"), NOW + i);
        assert!(browser.jar.len() <= 4, "{} flow cookies after {} sign-ins", browser.jar.len(), i + 1);
    }
    let newest = location(&browser.navigate(&mut gate, "/app/last", NOW + 20));
    let (done, _) = browser.come_back(&mut gate, &newest, NOW + 21, id_token_answer("alice@example.com", json!({})));
    assert_eq!(done.reason, Reason::SignedIn, "the newest still finishes");
}

#[test]
fn the_authorization_code_never_reaches_the_log() {
    let mut gate = gate();
    let browser = Browser::default();
    let verdict = gate.decide(&browser.request("GET", "/_wsgate/callback?code=4%2F0secretcode&state=AAAAAAAAAAAAAAAAAAAAAA", "navigate"), ms(NOW));
    assert_eq!(verdict.reason, Reason::SignInStateInvalid);
    let line = verdict.log_line.unwrap();
    assert!(!line.contains("secretcode") && line.contains("\"path\":\"/_wsgate/callback\""), "{line}");
}
