//! Live group membership through the real wsgate.wasm in the harness, with scripted
//! answers from the metadata server and Google's group APIs, and a clock the test
//! moves: a user removed from a group (denied after the TTL, not before), an API
//! outage (stale answers within the bound, then fail closed), 429 backoff, a refused
//! access token, and the Admin SDK backend.
//! Run with `make harness` (needs the built .wasm in `WSGATE_WASM`).

mod support;

use serde_json::{Value, json};
use std::sync::OnceLock;
use support::AUDIENCE;
use support::wasm::{T0, call_header, error_code, get_with_bearer, metric, set_seconds, start};
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_fixtures::configs::{cloud_identity_lookup, google_provider};
use wsgate_fixtures::{GoogleClaims, merge_patch, patched};
use wsgate_harness::plugin::{Exchange, Plugin};
use wsgate_harness::state::ScriptedAnswer;
const TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate_rs256("k1").unwrap())
}

/// `/admin` is for `admins@example.com`; membership is looked up live.
fn config(lookup_changes: Value) -> Vec<u8> {
    let mut lookup = patched(cloud_identity_lookup("cloudidentity"), &json!({"ttl_seconds": 300, "negative_ttl_seconds": 60, "stale_if_error_seconds": 600}));
    merge_patch(&mut lookup, &lookup_changes);
    let config = json!({
        "providers": [google_provider(AUDIENCE, &jwks(&[key()]))],
        "policy": {"rules": [{"name": "admins", "match": {"paths": [{"prefix": "/admin"}]}, "effect": "allow",
                              "subjects": {"groups": ["admins@example.com"]}}]},
        "group_lookup": lookup
    });
    serde_json::to_vec(&config).unwrap()
}

fn ok(body: Value) -> ScriptedAnswer {
    let headers = vec![(":status".to_owned(), b"200".to_vec()), ("content-type".to_owned(), b"application/json; charset=UTF-8".to_vec())];
    ScriptedAnswer { response: Some((headers, body.to_string().into_bytes())) }
}

fn error(status: u16, retry_after: Option<&str>) -> ScriptedAnswer {
    let mut headers = vec![(":status".to_owned(), status.to_string().into_bytes())];
    headers.extend(retry_after.map(|s| ("retry-after".to_owned(), s.as_bytes().to_vec())));
    let body = json!({"error": {"code": status, "message": "backend error", "status": "UNAVAILABLE"}});
    ScriptedAnswer { response: Some((headers, body.to_string().into_bytes())) }
}

fn metadata_token(plugin: &mut Plugin, token: &str) {
    plugin.script_http_call("metadata", ok(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})));
}

fn member(plugin: &mut Plugin, is_member: bool) {
    plugin.script_http_call("cloudidentity", ok(json!({"hasMembership": is_member})));
}

fn send(plugin: &mut Plugin, now: u64) -> Exchange {
    let token = key().sign(&GoogleClaims::id_token("alice@example.com", AUDIENCE, now).issued_ago(10).build()).unwrap();
    get_with_bearer(plugin, "/admin/users", &token)
}

fn paths(exchange: &Exchange) -> Vec<String> {
    exchange.http_calls.iter().map(|c| format!("{} {}", c.upstream, call_header(c, ":path").unwrap_or_default())).collect()
}

/// A first request for alice: token, group name, membership (true), answered 200.
fn alice_is_admin_at_start(plugin: &mut Plugin) -> Exchange {
    metadata_token(plugin, "ya29.first");
    plugin.script_http_call("cloudidentity", ok(json!({"name": "groups/01admins"})));
    member(plugin, true);
    let exchange = send(plugin, T0);
    assert_eq!(exchange.status, 200, "{:?}", exchange.local_reply);
    exchange
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_user_removed_from_a_group_is_denied_once_the_ttl_has_passed_not_before() {
    let mut plugin = start(&config(json!({})));
    let first = alice_is_admin_at_start(&mut plugin);
    assert_eq!(
        paths(&first),
        [
            format!("metadata {TOKEN_PATH}"),
            "cloudidentity /v1/groups:lookup?groupKey.id=admins%40example.com".to_owned(),
            "cloudidentity /v1/groups/01admins/memberships:checkTransitiveMembership?query=member_key_id%20%3D%3D%20%27alice%40example.com%27".to_owned(),
        ]
    );
    let [token_call, _, membership_call] = &first.http_calls[..] else { panic!("three calls") };
    assert_eq!(call_header(token_call, "metadata-flavor").as_deref(), Some("Google"));
    assert_eq!(call_header(token_call, ":authority").as_deref(), Some("metadata.google.internal"));
    assert_eq!(call_header(membership_call, "authorization").as_deref(), Some("Bearer ya29.first"));
    assert_eq!(call_header(membership_call, ":authority").as_deref(), Some("cloudidentity.googleapis.com"));
    let upstream = first.upstream_request.as_ref().unwrap();
    assert!(upstream.contains(&("x-workspace-groups".to_owned(), "admins@example.com".to_owned())), "{upstream:?}");

    // Alice leaves the group now; the cached answer stands for its TTL, with no calls.
    member(&mut plugin, false);
    set_seconds(&mut plugin, T0 + 299);
    let before = send(&mut plugin, T0 + 299);
    assert_eq!((before.status, before.http_calls.len()), (200, 0));

    set_seconds(&mut plugin, T0 + 300);
    let after = send(&mut plugin, T0 + 300);
    assert_eq!((after.status, error_code(&after).as_str()), (403, "not_allowed"));
    assert_eq!(after.http_calls.len(), 1, "one membership call: token and group name are cached: {:?}", paths(&after));
    assert_eq!(metric(&mut plugin, "wsgate.groups.cache_misses"), 2);
    assert_eq!(metric(&mut plugin, "wsgate.groups.cache_hits"), 3);
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn an_api_outage_uses_stale_answers_within_the_bound_then_fails_closed() {
    let mut plugin = start(&config(json!({})));
    alice_is_admin_at_start(&mut plugin);

    // Past the TTL the API fails: the stale "member" answer is used.
    set_seconds(&mut plugin, T0 + 300);
    plugin.script_http_call("cloudidentity", error(503, None));
    let stale = send(&mut plugin, T0 + 300);
    assert_eq!(stale.status, 200, "{:?}", stale.local_reply);
    assert_eq!(stale.http_calls.len(), 1);
    assert!(stale.logs.iter().any(|l| l.message.contains("failed: HTTP 503")), "{:?}", stale.logs);

    // A timeout (no answer at all) counts the same.
    set_seconds(&mut plugin, T0 + 600);
    plugin.script_http_call("cloudidentity", ScriptedAnswer { response: None });
    assert_eq!(send(&mut plugin, T0 + 600).status, 200);
    assert_eq!(metric(&mut plugin, "wsgate.groups.stale"), 2);

    // Past TTL + stale_if_error_seconds (300 + 600): refused, 403 groups_unavailable.
    set_seconds(&mut plugin, T0 + 900);
    plugin.script_http_call("cloudidentity", error(500, None));
    let closed = send(&mut plugin, T0 + 900);
    assert_eq!((closed.status, error_code(&closed).as_str()), (403, "groups_unavailable"));
    assert_eq!(metric(&mut plugin, "wsgate.groups.lookups_failed"), 3);
    assert_eq!(metric(&mut plugin, "wsgate.reason.groups_unavailable"), 1);

    // Once the API answers again, so does the gate.
    set_seconds(&mut plugin, T0 + 1000);
    member(&mut plugin, true);
    assert_eq!(send(&mut plugin, T0 + 1000).status, 200);
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_429_backs_off_for_its_retry_after_and_the_failure_mode_may_be_503() {
    let mut plugin = start(&config(json!({"on_failure": "unavailable"})));
    metadata_token(&mut plugin, "ya29.first");
    plugin.script_http_call("cloudidentity", ok(json!({"name": "groups/01admins"})));
    plugin.script_http_call("cloudidentity", error(429, Some("30")));
    let refused = send(&mut plugin, T0);
    assert_eq!((refused.status, error_code(&refused).as_str()), (503, "groups_unavailable"));
    assert!(refused.local_reply.as_ref().unwrap().headers.iter().any(|(n, _)| n == "retry-after"));

    set_seconds(&mut plugin, T0 + 29);
    let backing_off = send(&mut plugin, T0 + 29);
    assert_eq!((backing_off.status, backing_off.http_calls.len(), backing_off.held_ms), (503, 0, 0), "no call, no wait");

    set_seconds(&mut plugin, T0 + 30);
    member(&mut plugin, true);
    let served = send(&mut plugin, T0 + 30);
    assert_eq!((served.status, served.http_calls.len()), (200, 1));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn a_refused_access_token_is_replaced() {
    let mut plugin = start(&config(json!({"negative_ttl_seconds": 1, "ttl_seconds": 1})));
    alice_is_admin_at_start(&mut plugin);
    set_seconds(&mut plugin, T0 + 2);
    plugin.script_http_call("cloudidentity", error(401, None));
    assert_eq!(send(&mut plugin, T0 + 2).status, 200, "stale within the bound");
    set_seconds(&mut plugin, T0 + 10);
    metadata_token(&mut plugin, "ya29.second");
    member(&mut plugin, true);
    let exchange = send(&mut plugin, T0 + 10);
    assert_eq!(exchange.status, 200);
    let membership = exchange.http_calls.iter().find(|c| c.upstream == "cloudidentity").unwrap();
    assert_eq!(call_header(membership, "authorization").as_deref(), Some("Bearer ya29.second"));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn the_admin_sdk_is_asked_by_email_and_a_missing_metadata_server_fails_closed() {
    let mut plugin = start(&config(json!({"backend": "admin_sdk", "cluster": "admin"})));
    metadata_token(&mut plugin, "ya29.first");
    plugin.script_http_call("admin", ok(json!({"kind": "admin#directory#membersHasMember", "isMember": true})));
    let exchange = send(&mut plugin, T0);
    assert_eq!(exchange.status, 200, "{:?}", exchange.local_reply);
    assert_eq!(paths(&exchange)[1], "admin /admin/directory/v1/groups/admins%40example.com/hasMember/alice%40example.com");
    assert_eq!(call_header(&exchange.http_calls[1], ":authority").as_deref(), Some("admin.googleapis.com"));

    let mut plugin = start(&config(json!({})));
    plugin.script_http_call("metadata", error(404, None));
    let refused = send(&mut plugin, T0);
    assert_eq!((refused.status, error_code(&refused).as_str()), (403, "groups_unavailable"));
    assert!(refused.logs.iter().any(|l| l.message.contains("getting an access token from cluster `metadata` failed")), "{:?}", refused.logs);
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn with_wait_ms_0_a_request_is_never_held_and_its_lookup_serves_the_next_one() {
    let mut plugin = start(&config(json!({"wait_ms": 0})));
    metadata_token(&mut plugin, "ya29.first");
    plugin.script_http_call("cloudidentity", ok(json!({"name": "groups/01admins"})));
    member(&mut plugin, true);
    let first = send(&mut plugin, T0);
    assert_eq!((first.status, error_code(&first).as_str(), first.held_ms), (403, "groups_unavailable", 0));
    assert_eq!(first.http_calls.len(), 3, "the lookup still ran: {:?}", paths(&first));
    let second = send(&mut plugin, T0);
    assert_eq!((second.status, second.http_calls.len()), (200, 0));
}

#[test]
#[ignore = "needs the built .wasm: run `make harness`"]
fn the_access_token_is_refreshed_shortly_before_it_expires_without_waiting_for_a_request() {
    let mut plugin = start(&config(json!({})));
    plugin.script_http_call("metadata", ok(json!({"access_token": "ya29.short", "expires_in": 900, "token_type": "Bearer"})));
    plugin.script_http_call("cloudidentity", ok(json!({"name": "groups/01admins"})));
    member(&mut plugin, true);
    assert_eq!(send(&mut plugin, T0).status, 200);
    // 900 s token: refreshed 300 s before it expires, on the root's tick.
    set_seconds(&mut plugin, T0 + 599);
    assert!(plugin.tick().unwrap().is_empty());
    set_seconds(&mut plugin, T0 + 600);
    metadata_token(&mut plugin, "ya29.refreshed");
    let calls = plugin.tick().unwrap();
    assert_eq!(calls.iter().map(|c| c.upstream.as_str()).collect::<Vec<_>>(), ["metadata"]);
    set_seconds(&mut plugin, T0 + 700);
    member(&mut plugin, true);
    let exchange = send(&mut plugin, T0 + 700);
    let membership = exchange.http_calls.iter().find(|c| c.upstream == "cloudidentity").unwrap();
    assert_eq!(call_header(membership, "authorization").as_deref(), Some("Bearer ya29.refreshed"));
}
