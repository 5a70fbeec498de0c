//! The callers Google Workspace sends, decided by the gate: Chat apps (both audience
//! kinds, Chat's keys from an X.509 certificate map), an add-on acting for a user
//! whose token rides in the body, Apps Script, Pub/Sub push, and people directly;
//! each only on its own routes, and the service told who came through what.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::*;
use wsgate_core::mint::{SigningKey, TestKeys};
use wsgate_core::mint_x509::certificate_pem;
use wsgate_core::{Action, Gate, Reason, RequestSnapshot, Settings, Verdict};
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::claims::{CHAT_SIGNER, addon_event};
use wsgate_fixtures::configs::{ADDON_CLIENT, ADDON_PROJECT, CHAT_PROJECT, PUSH_ACCOUNT, SCRIPT_CLIENT, workspace_callers};

/// The add-on's endpoint: Cloud Run's URL, the audience of its system token.
const ENDPOINT: &str = AUDIENCE;

/// The Workspace callers' gate, Chat's certificate map installed as if fetched.
fn callers_gate() -> Gate {
    let mut gate = Gate::from_json(workspace_callers(&TestKeys::shared().jwks(), "google").to_string().as_bytes()).unwrap();
    let map = json!({"rsa-1": certificate_pem(&TestKeys::shared().rsa, CHAT_SIGNER).unwrap()});
    assert_eq!(gate.install_fetched_keys(1, map.to_string().as_bytes()), Ok(1));
    gate
}

fn post(path: &str, token: &str) -> RequestSnapshot {
    RequestSnapshot::new("POST", "svc.example.com", path).with_header("authorization", format!("Bearer {token}")).with_header("x-request-id", "req-7")
}

fn signed(claims: impl Into<Value>) -> String {
    rsa_token(&claims.into())
}

fn addon_token() -> String {
    signed(GoogleClaims::addon_system_token(ADDON_PROJECT, ENDPOINT, NOW).issued_ago(30))
}

/// The user token an add-on carries: the user's ID token, issued to the add-on's client.
fn user_token(email: &str) -> String {
    signed(GoogleClaims::id_token(email, ENDPOINT, NOW).issued_ago(30).set("azp", ADDON_CLIENT))
}

fn addon_request(user: Option<&str>) -> RequestSnapshot {
    let system = addon_token();
    let body = addon_event(&system, user).to_string().into_bytes();
    post("/addon/expenses", &system).with_header("content-length", body.len().to_string()).with_body(body)
}

fn header<'a>(verdict: &'a Verdict, name: &str) -> Option<&'a str> {
    match &verdict.action {
        Action::Forward { set, .. } => set.iter().find(|(n, _)| n == name).map(|(_, v)| std::str::from_utf8(v).unwrap()),
        Action::Respond(_) => None,
    }
}

fn status(verdict: &Verdict) -> u16 {
    match &verdict.action {
        Action::Forward { .. } => 200,
        Action::Respond(response) => response.status,
    }
}

fn log(verdict: &Verdict) -> Value {
    serde_json::from_str(verdict.log_line.as_deref().unwrap()).unwrap()
}

#[test]
fn a_chat_project_number_token_verifies_with_the_certificate_map_on_the_chat_route_only() {
    let token = signed(GoogleClaims::chat_project_token(CHAT_PROJECT, NOW).issued_ago(5));
    let verdict = callers_gate().decide(&post("/chat/events", &token), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed, "{:?}", verdict.log_line);
    assert_eq!(header(&verdict, "x-workspace-via"), Some("chat:111111111111"));
    assert_eq!(header(&verdict, "x-workspace-subject"), Some(CHAT_SIGNER), "no `sub`: the signer is the subject");
    assert_eq!(callers_gate().decide(&post("/addon/expenses", &token), ms(NOW)).reason, Reason::NotAllowed);
    let other_project = signed(GoogleClaims::chat_project_token("999", NOW).issued_ago(5));
    assert_eq!(callers_gate().decide(&post("/chat/events", &other_project), ms(NOW)).reason, Reason::AudienceNotAllowed);
}

#[test]
fn a_chat_token_from_a_key_outside_the_certificate_map_is_refused() {
    let rogue = TestKeys::shared().rogue_rsa.sign(&GoogleClaims::chat_project_token(CHAT_PROJECT, NOW).issued_ago(5).build()).unwrap();
    assert_eq!(callers_gate().decide(&post("/chat/events", &rogue), ms(NOW)).reason, Reason::BadSignature);
}

#[test]
fn a_chat_endpoint_url_token_names_the_chat_app_only_through_its_projects_account() {
    // Any Chat app pointed at this URL gets tokens of Chat's shared account for it.
    let shared = signed(GoogleClaims::chat_endpoint_token(ENDPOINT, NOW).issued_ago(5));
    let verdict = callers_gate().decide(&post("/chat/events", &shared), ms(NOW));
    assert_eq!(verdict.reason, Reason::NotAllowed);
    assert_eq!(header(&verdict, "x-workspace-via"), None);
    // A Chat app built as an add-on signs as its project's add-on account.
    let own = signed(GoogleClaims::addon_system_token(CHAT_PROJECT, ENDPOINT, NOW).issued_ago(5));
    let verdict = callers_gate().decide(&post("/chat/events", &own), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed);
    assert_eq!(header(&verdict, "x-workspace-via"), Some("chat:111111111111"));
}

#[test]
fn an_addon_request_asks_for_its_body_before_deciding() {
    let request = post("/addon/expenses", &addon_token());
    let verdict = callers_gate().decide(&request, ms(NOW));
    assert_eq!(verdict.awaiting_body, Some(64 << 10));
    assert!(verdict.log_line.is_none(), "nothing is logged before the decision");
}

#[test]
fn an_addon_acting_for_a_finance_member_forwards_the_user_with_the_addon_as_intermediary() {
    let verdict = callers_gate().decide(&addon_request(Some(&user_token("alice@example.com"))), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed, "{:?}", verdict.log_line);
    assert_eq!(verdict.rule.as_ref().map(|r| &*r.name), Some("expenses-for-finance"));
    assert_eq!(header(&verdict, "x-workspace-email"), Some("alice@example.com"));
    assert_eq!(header(&verdict, "x-workspace-groups"), Some("finance@example.com"));
    assert_eq!(header(&verdict, "x-workspace-via"), Some("addon:222222222222"));
    let line = log(&verdict);
    assert_eq!(line["email"], "alice@example.com");
    assert_eq!(line["via"], "addon:222222222222");
    assert_eq!(line["via_email"], "service-222222222222@gcp-sa-gsuiteaddons.iam.gserviceaccount.com");
}

#[test]
fn an_addon_acting_for_someone_outside_finance_is_refused_with_both_identities_logged() {
    let verdict = callers_gate().decide(&addon_request(Some(&user_token("bob@example.com"))), ms(NOW));
    assert_eq!((verdict.reason, status(&verdict)), (Reason::NotAllowed, 403));
    let line = log(&verdict);
    assert_eq!((line["email"].as_str(), line["via"].as_str()), (Some("bob@example.com"), Some("addon:222222222222")));
}

#[test]
fn a_forged_expired_or_missing_user_token_is_refused_401_with_its_reason() {
    let forged = TestKeys::shared().rogue_rsa.sign(&GoogleClaims::id_token("alice@example.com", ENDPOINT, NOW).issued_ago(30).build()).unwrap();
    let expired = signed(GoogleClaims::id_token("alice@example.com", ENDPOINT, NOW).issued_ago(7200));
    for (user, reason) in [(Some(forged.as_str()), Reason::BadSignature), (Some(expired.as_str()), Reason::TokenExpired), (None, Reason::UserTokenMissing)] {
        let verdict = callers_gate().decide(&addon_request(user), ms(NOW));
        assert_eq!((verdict.reason, status(&verdict)), (reason, 401));
        let Action::Respond(response) = &verdict.action else { panic!() };
        assert!(response.headers.iter().any(|(n, v)| n == "www-authenticate" && v.contains("invalid_token")), "{response:?}");
        assert_eq!(log(&verdict)["failed_token"], "user");
    }
}

#[test]
fn a_body_that_is_not_an_event_has_no_user_token() {
    for body in [&b"not json"[..], br#"{"authorizationEventObject": {"userIdToken": 7}}"#, br#"{"authorizationEventObject": {"userIdToken": ""}}"#] {
        let request = post("/addon/expenses", &addon_token()).with_body(body.to_vec());
        assert_eq!(callers_gate().decide(&request, ms(NOW)).reason, Reason::UserTokenMissing);
    }
}

#[test]
fn a_body_over_the_limit_is_refused_413_declared_or_read() {
    let declared = post("/addon/expenses", &addon_token()).with_header("content-length", "65537");
    let verdict = callers_gate().decide(&declared, ms(NOW));
    assert_eq!((verdict.reason, status(&verdict), verdict.awaiting_body), (Reason::BodyTooLarge, 413, None));
    let read = post("/addon/expenses", &addon_token()).with_body(vec![b' '; 65_537]);
    assert_eq!(status(&callers_gate().decide(&read, ms(NOW))), 413);
}

#[test]
fn a_user_token_of_another_projects_client_or_a_service_does_not_ride_with_the_addon() {
    let foreign = signed(GoogleClaims::id_token("alice@example.com", ENDPOINT, NOW).issued_ago(30).set("azp", "999-other.apps.googleusercontent.com"));
    assert_eq!(callers_gate().decide(&addon_request(Some(&foreign)), ms(NOW)).reason, Reason::UserTokenMismatch);
    let push = signed(GoogleClaims::service_account(PUSH_ACCOUNT, ENDPOINT, NOW).issued_ago(30));
    assert_eq!(callers_gate().decide(&addon_request(Some(&push)), ms(NOW)).reason, Reason::UserTokenMismatch);
    let another_addon = signed(GoogleClaims::addon_system_token(ADDON_PROJECT, ENDPOINT, NOW).issued_ago(30));
    assert_eq!(callers_gate().decide(&addon_request(Some(&another_addon)), ms(NOW)).reason, Reason::UserTokenMismatch);
}

#[test]
fn a_user_token_must_be_issued_for_the_addon_its_project_or_a_listed_audience() {
    let bare = signed(GoogleClaims::id_token("alice@example.com", ENDPOINT, NOW).issued_ago(30));
    assert_eq!(callers_gate().decide(&addon_request(Some(&bare)), ms(NOW)).reason, Reason::UserTokenMismatch, "issued to no client of the add-on's project");
    let mut config = workspace_callers(&TestKeys::shared().jwks(), "google");
    config["policy"]["callers"][1]["on_behalf_of"] = json!({"audiences": [ENDPOINT]});
    let mut gate = Gate::from_json(config.to_string().as_bytes()).unwrap();
    assert_eq!(gate.decide(&addon_request(Some(&bare)), ms(NOW)).reason, Reason::Allowed, "the audience is listed");
}

#[test]
fn a_body_that_spells_the_user_token_twice_or_in_another_case_has_none() {
    let alice = user_token("alice@example.com");
    let bodies = [
        format!(r#"{{"authorizationEventObject": {{"userIdToken": "{alice}"}}, "AuthorizationEventObject": {{"userIdToken": "x"}}}}"#),
        format!(r#"{{"authorizationEventObject": {{"userIdToken": "{alice}", "useridtoken": "x"}}}}"#),
        format!(r#"{{"authorizationEventObject": {{"userIdToken": "{alice}", "userIdToken": "{alice}"}}}}"#),
    ];
    for body in bodies {
        let request = post("/addon/expenses", &addon_token()).with_body(body.clone().into_bytes());
        assert_eq!(callers_gate().decide(&request, ms(NOW)).reason, Reason::UserTokenMissing, "{body}");
    }
    let plain = format!(r#"{{"authorizationEventObject": {{"userIdToken": "{alice}", "systemIdToken": "s"}}, "commonEventObject": {{}}}}"#);
    let request = post("/addon/expenses", &addon_token()).with_body(plain.into_bytes());
    assert_eq!(callers_gate().decide(&request, ms(NOW)).reason, Reason::Allowed);
}

#[test]
fn a_user_calling_the_addon_route_directly_is_not_the_addon() {
    let verdict = callers_gate().decide(&post("/addon/expenses", &user_token("alice@example.com")), ms(NOW));
    assert_eq!(verdict.reason, Reason::NotAllowed, "finance membership alone does not open the add-on's route");
    assert_eq!(header(&verdict, "x-workspace-via"), None);
}

#[test]
fn pubsub_push_is_admitted_on_its_route_only() {
    let token = signed(GoogleClaims::service_account(PUSH_ACCOUNT, ENDPOINT, NOW).issued_ago(30));
    let verdict = callers_gate().decide(&post("/pubsub/push", &token), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed);
    assert_eq!(header(&verdict, "x-workspace-via"), Some("service_account:orders-push"));
    for path in ["/app", "/addon/expenses", "/chat/events", "/pubsub/push/extra"] {
        assert_eq!(callers_gate().decide(&post(path, &token), ms(NOW)).reason, Reason::NotAllowed, "{path}");
    }
}

#[test]
fn an_apps_script_token_is_the_user_through_the_script() {
    let token = signed(GoogleClaims::apps_script("carol@example.com", SCRIPT_CLIENT, NOW).issued_ago(30));
    let verdict = callers_gate().decide(&post("/script/run", &token), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed);
    assert_eq!((header(&verdict, "x-workspace-email"), header(&verdict, "x-workspace-via")), (Some("carol@example.com"), Some("apps_script:budget-script")));
    assert_eq!(callers_gate().decide(&post("/app", &token), ms(NOW)).reason, Reason::NotAllowed, "not direct");
    let direct = signed(GoogleClaims::id_token("carol@example.com", ENDPOINT, NOW).issued_ago(30));
    assert_eq!(callers_gate().decide(&post("/script/run", &direct), ms(NOW)).reason, Reason::NotAllowed);
    assert_eq!(callers_gate().decide(&post("/app", &direct), ms(NOW)).reason, Reason::Allowed);
}

#[test]
fn a_client_cannot_send_its_own_via_header() {
    let gate = callers_gate();
    let request = post("/app", "x").with_header("X-Workspace_Via", "addon:222222222222").with_header("x-workspace-via", "chat:1");
    assert_eq!(gate.forged_identity_headers(&request), ["x-workspace_via", "x-workspace-via"]);
}

#[test]
fn a_new_certificate_map_replaces_the_old_keys() {
    let mut gate = callers_gate();
    let next = SigningKey::generate_rs256("rsa-2").unwrap();
    let map = json!({"rsa-2": certificate_pem(&next, CHAT_SIGNER).unwrap()});
    assert_eq!(gate.install_fetched_keys(1, map.to_string().as_bytes()), Ok(1));
    let old = signed(GoogleClaims::chat_project_token(CHAT_PROJECT, NOW).issued_ago(5));
    assert_eq!(gate.decide(&post("/chat/events", &old), ms(NOW)).reason, Reason::UnknownKeyId);
    let new = next.sign(&GoogleClaims::chat_project_token(CHAT_PROJECT, NOW).issued_ago(5).build()).unwrap();
    assert_eq!(gate.decide(&post("/chat/events", &new), ms(NOW)).reason, Reason::Allowed);
    assert!(gate.install_fetched_keys(1, TestKeys::shared().jwks().to_string().as_bytes()).is_err(), "a JWKS is not a certificate map");
}

#[test]
fn a_chat_app_built_as_an_addon_may_carry_its_user_too() {
    let mut config = workspace_callers(&TestKeys::shared().jwks(), "google");
    config["policy"]["callers"][0]["on_behalf_of"] = json!({});
    let mut gate = Gate::from_json(config.to_string().as_bytes()).unwrap();
    let system = signed(GoogleClaims::addon_system_token(CHAT_PROJECT, ENDPOINT, NOW).issued_ago(5));
    let user = signed(GoogleClaims::id_token("dana@example.com", ENDPOINT, NOW).issued_ago(5).set("azp", format!("{CHAT_PROJECT}-chat.apps.googleusercontent.com")));
    let body = addon_event(&system, Some(&user)).to_string().into_bytes();
    let verdict = gate.decide(&post("/chat/events", &system).with_body(body), ms(NOW));
    assert_eq!(verdict.reason, Reason::Allowed, "{:?}", verdict.log_line);
    assert_eq!((header(&verdict, "x-workspace-email"), header(&verdict, "x-workspace-via")), (Some("dana@example.com"), Some("chat:111111111111")));
}

#[test]
fn a_rule_can_require_the_provider_that_verified_the_caller() {
    let mut config = config();
    config["policy"] = json!({"rules": [
        {"name": "iap-only", "match": {"paths": [{"prefix": "/admin"}], "providers": ["iap"]}, "effect": "allow", "subjects": {"domains": ["example.com"]}}
    ]});
    let mut gate = Gate::new(settings(&config));
    let iap = RequestSnapshot::new("GET", "svc.example.com", "/admin").with_header("x-goog-iap-jwt-assertion", es_token(&iap_claims()));
    assert_eq!(gate.decide(&iap, ms(NOW)).reason, Reason::Allowed);
    let google = RequestSnapshot::new("GET", "svc.example.com", "/admin").with_header("authorization", format!("Bearer {}", rsa_token(&google_claims())));
    assert_eq!(gate.decide(&google, ms(NOW)).reason, Reason::NotAllowed, "the same person, vouched for by another provider");
    config["policy"]["rules"][0]["match"]["providers"] = json!(["iap", "okta"]);
    let errors = Settings::from_json(config.to_string().as_bytes()).unwrap_err().0;
    assert!(errors.iter().any(|e| e.to_string() == "policy.rules[0].match.providers[1]: `okta` is not in `providers`"), "{errors:?}");
}
