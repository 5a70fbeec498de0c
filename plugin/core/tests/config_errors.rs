//! A bad configuration is refused at load time, and every message names its field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::*;
use wsgate_core::Settings;
use wsgate_core::extract::TokenSource;
use wsgate_fixtures::configs::{google_certs, google_provider_fetching};
use wsgate_fixtures::patched;

/// Applies `change` to a good config and returns the error lines.
fn errors_after(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut config = config();
    change(&mut config);
    match Settings::from_json(config.to_string().as_bytes()) {
        Ok(_) => vec![],
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn assert_refused(change: impl FnOnce(&mut Value), expected: &str) {
    let errors = errors_after(change);
    assert!(errors.iter().any(|e| e.starts_with(expected)), "expected an error starting with {expected:?}, got {errors:?}");
}

#[test]
fn the_shared_fixture_config_is_valid() {
    assert_eq!(errors_after(|_| {}), Vec::<String>::new());
}

/// A change to the fixture config.
type Edit = Box<dyn FnOnce(&mut Value)>;

#[test]
fn each_bad_field_is_named_in_its_error() {
    let cases: Vec<(&str, Edit)> = vec![
        ("providers: needs at least one provider", Box::new(|c| c["providers"] = json!([]))),
        ("providers[0].audiences: needs at least one audience", Box::new(|c| c["providers"][0]["audiences"] = json!([]))),
        ("providers[0].issuers: needs at least one issuer", Box::new(|c| c["providers"][0]["issuers"] = json!([]))),
        ("providers[0].issuers[1]: must not be empty", Box::new(|c| c["providers"][0]["issuers"][1] = json!(" "))),
        ("providers[1].issuers[0]: `https://accounts.google.com` belongs to another provider", Box::new(|c| c["providers"][1]["issuers"] = json!([GOOGLE]))),
        ("providers[1].name: `google` is used by another provider", Box::new(|c| c["providers"][1]["name"] = json!("google"))),
        ("providers[0].local_jwks: one of local_jwks (the keys as a JWKS), remote_jwks or remote_x509 (where to fetch them) is required", Box::new(|c| { c["providers"][0].as_object_mut().unwrap().remove("local_jwks"); })),
        ("providers[0].remote_jwks: set only one of local_jwks, remote_jwks and remote_x509", Box::new(|c| c["providers"][0]["remote_jwks"] = remote_jwks())),
        ("providers[0].remote_x509: set only one of local_jwks, remote_jwks and remote_x509", Box::new(|c| c["providers"][0]["remote_x509"] = remote_jwks())),
        ("providers[0].remote_x509.cluster: must name", Box::new(|c| { c["providers"][0].as_object_mut().unwrap().remove("local_jwks"); c["providers"][0]["remote_x509"] = json!({"cluster": "", "authority": "www.googleapis.com", "path": "/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com"}) })),
        ("policy.callers[0].project_number: is required", Box::new(|c| c["policy"]["callers"] = json!([{"name": "addon", "kind": "workspace_addon"}]))),
        ("policy.rules[0].match.callers[0]: `chat` is not in `callers`", Box::new(|c| c["policy"]["rules"] = json!([{"name": "r", "match": {"callers": ["chat"]}, "effect": "allow", "subjects": {"authenticated": true}}]))),
        ("identity_headers.via: `x-workspace-email` is used for another identity header", Box::new(|c| c["identity_headers"] = json!({"via": "x-workspace-email"}))),
        ("providers[0].remote_jwks.cluster: must name the Envoy cluster", Box::new(|c| c["providers"][0] = remote_provider(json!({"cluster": " "})))),
        ("providers[0].remote_jwks.path: must be an absolute path", Box::new(|c| c["providers"][0] = remote_provider(json!({"path": "oauth2/v3/certs"})))),
        ("providers[0].remote_jwks.authority: must be a host name", Box::new(|c| c["providers"][0] = remote_provider(json!({"authority": ""})))),
        ("providers[0].remote_jwks.timeout_ms: must be between 100 and 60000", Box::new(|c| c["providers"][0] = remote_provider(json!({"timeout_ms": 0})))),
        ("providers[0].remote_jwks.min_refresh_seconds: must be between 10 and 600", Box::new(|c| c["providers"][0] = remote_provider(json!({"min_refresh_seconds": 900, "max_refresh_seconds": 600})))),
        ("providers[0].remote_jwks.unknown_kid_refresh_seconds: must be between 1 and 86400", Box::new(|c| c["providers"][0] = remote_provider(json!({"unknown_kid_refresh_seconds": 0})))),
        ("providers[0].remote_jwks.max_retry_seconds: must be between 1 and 3600", Box::new(|c| c["providers"][0] = remote_provider(json!({"max_retry_seconds": 0})))),
        ("providers[0].remote_jwks.wait_for_keys_ms: must be between 0 and 30000", Box::new(|c| c["providers"][0] = remote_provider(json!({"wait_for_keys_ms": 60_000})))),
        ("providers[0].remote_jwks.unavailable_status: must be 503 (retry later) or 401", Box::new(|c| c["providers"][0] = remote_provider(json!({"unavailable_status": 500})))),
        ("providers[0].remote_jwks.url: unknown field `url`", Box::new(|c| c["providers"][0] = remote_provider(json!({"url": "https://www.googleapis.com/oauth2/v3/certs"})))),
        ("providers[0].local_jwks.keys[0]: needs a `kid`", Box::new(|c| { c["providers"][0]["local_jwks"]["keys"][0].as_object_mut().unwrap().remove("kid"); })),
        ("providers[0].local_jwks: must be an object with a `keys` array", Box::new(|c| c["providers"][0]["local_jwks"] = json!({"k": 1}))),
        ("providers[0].algorithms[0]: unknown variant `HS256`", Box::new(|c| c["providers"][0]["algorithms"] = json!(["HS256"]))),
        ("providers[0].algorithms: needs at least one", Box::new(|c| c["providers"][0]["algorithms"] = json!([]))),
        ("providers[0].clock_skew_seconds: must be at most 600", Box::new(|c| c["providers"][0]["clock_skew_seconds"] = json!(3600))),
        ("providers[0].max_lifetime_seconds: must be between 1 and 86400", Box::new(|c| c["providers"][0]["max_lifetime_seconds"] = json!(0))),
        ("providers[0].clock_skew_seconds: invalid type", Box::new(|c| c["providers"][0]["clock_skew_seconds"] = json!("60s"))),
        ("providers[0].audience: unknown field `audience`", Box::new(|c| c["providers"][0]["audience"] = json!("x"))),
        ("policy.allow: names nobody", Box::new(|c| c["policy"]["allow"] = json!({}))),
        ("policy.public_paths[0]: `healthz` must be a plain path", Box::new(|c| c["policy"]["public_paths"] = json!(["healthz"]))),
        ("policy.public_paths[0]: `/api/*` must be a plain path", Box::new(|c| c["policy"]["public_paths"] = json!(["/api/*"]))),
        ("policy: admits nobody", Box::new(|c| c["policy"] = json!({}))),
        ("token_sources[0]: set exactly one of `header` or `cookie`", Box::new(|c| c["token_sources"] = json!([{"header": "a", "cookie": "b"}]))),
        ("token_sources[0].prefix: applies to headers only", Box::new(|c| c["token_sources"] = json!([{"cookie": "b", "prefix": "Bearer "}]))),
        ("token_sources[0].header: `bad header` is not a valid header name", Box::new(|c| c["token_sources"] = json!([{"header": "bad header"}]))),
        ("token_sources: needs at least one source", Box::new(|c| c["token_sources"] = json!([]))),
        ("identity_headers.email: `authorization` would be removed from every request", Box::new(|c| c["identity_headers"] = json!({"email": "Authorization"}))),
        ("identity_headers.domain: `x-workspace-email` is used for another identity header", Box::new(|c| c["identity_headers"] = json!({"domain": "x-workspace-email"}))),
        ("realm: must be non-empty printable ASCII", Box::new(|c| c["realm"] = json!("a\"b"))),
        ("max_token_bytes: must be between 512 and 65536", Box::new(|c| c["max_token_bytes"] = json!(100))),
        ("group_lookup.backend: unknown variant `ldap`", Box::new(|c| c["group_lookup"] = json!({"backend": "ldap", "cluster": "google"}))),
        ("group_lookup.cluster: must name an Envoy cluster", Box::new(|c| c["group_lookup"] = json!({"backend": "admin_sdk", "cluster": ""}))),
        ("group_lookup.negative_ttl_seconds: must be between 1 and 60", Box::new(|c| c["group_lookup"] = json!({"backend": "admin_sdk", "cluster": "g", "ttl_seconds": 60, "negative_ttl_seconds": 300}))),
        ("group_lookup.on_failure: unknown variant `allow`", Box::new(|c| c["group_lookup"] = json!({"backend": "admin_sdk", "cluster": "g", "on_failure": "allow"}))),
        ("group_lookup.access_token.path: must be an absolute path", Box::new(|c| c["group_lookup"] = json!({"backend": "admin_sdk", "cluster": "g", "access_token": {"path": "token"}}))),
        ("group_lookup.cache_users: must be between 1 and 1000000", Box::new(|c| c["group_lookup"] = json!({"backend": "admin_sdk", "cluster": "g", "cache_users": 0}))),
        ("group_lookup.service_account_key: unknown field", Box::new(|c| c["group_lookup"] = json!({"backend": "admin_sdk", "cluster": "g", "service_account_key": "{}"}))),
        ("token_cache_entries: must be at most 1000000", Box::new(|c| c["token_cache_entries"] = json!(2_000_000))),
        ("token_cache_bytes: must be between 65536 and 1073741824", Box::new(|c| c["token_cache_bytes"] = json!(1_000))),
        ("decision_log: unknown variant `verbose`, expected one of `all`, `denied`, `none`", Box::new(|c| c["decision_log"] = json!("verbose"))),
        ("polcy: unknown field `polcy`", Box::new(|c| c["polcy"] = json!({}))),
    ];
    for (expected, change) in cases {
        assert_refused(change, expected);
    }
}

fn remote_jwks() -> Value {
    google_certs("google")
}

/// The Google provider with its keys fetched, `changes` made to `remote_jwks`.
fn remote_provider(changes: Value) -> Value {
    patched(google_provider_fetching(AUDIENCE, "google"), &json!({"remote_jwks": changes}))
}

#[test]
fn remote_jwks_defaults_match_the_documentation() {
    let settings = settings(&json!({"providers": [remote_provider(json!({}))], "policy": {"allow": {"authenticated": true}}}));
    let remote = settings.verifier.provider(0).unwrap().remote.clone().unwrap();
    assert_eq!((remote.cluster.as_str(), remote.authority.as_str(), remote.path.as_str()), ("google", "www.googleapis.com", "/oauth2/v3/certs"));
    assert_eq!(remote.timeout_ms, 5000);
    assert_eq!((remote.min_refresh_ms, remote.max_refresh_ms), (300_000, 86_400_000));
    assert_eq!(remote.unknown_kid_refresh_ms, 30_000);
    assert_eq!(remote.stale_if_error_ms, 12 * 3_600_000);
    assert_eq!(remote.max_retry_ms, 60_000);
    assert_eq!(remote.wait_for_keys_ms, 3000);
    assert_eq!(remote.unavailable_status, 503);
    assert!(settings.verifier.provider(0).unwrap().keys.is_empty(), "no keys until fetched");
}

#[test]
fn all_problems_are_reported_at_once() {
    let errors = errors_after(|c| {
        c["providers"][0]["audiences"] = json!([]);
        c["policy"]["allow"] = json!({});
        c["realm"] = json!("");
    });
    assert_eq!(errors.len(), 3, "{errors:?}");
}

#[test]
fn a_jwks_may_be_given_as_a_json_string_like_envoys_inline_string() {
    let errors = errors_after(|c| {
        let text = c["providers"][0]["local_jwks"].to_string();
        c["providers"][0]["local_jwks"] = Value::String(text);
    });
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_non_json_config_is_refused_with_the_position() {
    let errors = Settings::from_json(b"{\"providers\": [").unwrap_err();
    assert!(errors.to_string().contains("line 1"), "{errors}");
}

#[test]
fn defaults_match_the_documentation() {
    let settings = settings(&json!({
        "providers": [{"name": "g", "issuers": [GOOGLE], "audiences": [AUDIENCE], "local_jwks": wsgate_core::mint::TestKeys::shared().jwks()}],
        "policy": {"allow": {"authenticated": true}}
    }));
    let provider = settings.verifier.provider(0).unwrap();
    assert_eq!(provider.clock_skew, 60);
    assert_eq!(provider.max_lifetime, 3600);
    assert!(provider.require_email_verified);
    assert_eq!(settings.identity_headers.all(), ["x-workspace-email", "x-workspace-subject", "x-workspace-domain", "x-workspace-groups", "x-workspace-via"]);
    assert_eq!(settings.realm, "wsgate");
    assert!(!settings.strip_token);
    assert_eq!(settings.token_cache_entries, 4096);
    assert_eq!(settings.token_cache_bytes, 8 << 20);
    assert_eq!(settings.token_sources.len(), 2);
}

/// Sets a header name somewhere in a config.
type NameSite = (&'static str, fn(&mut Value, &str));

/// Every field that names a header (or a cookie), with how to set it.
const NAME_SITES: [NameSite; 4] = [
    ("token_sources[0].header", |c, name| c["token_sources"] = json!([{"header": name}])),
    ("token_sources[0].cookie", |c, name| c["token_sources"] = json!([{"cookie": name}])),
    ("identity_headers.email", |c, name| c["identity_headers"] = json!({"email": name})),
    ("policy.explain_header", |c, name| c["policy"]["explain_header"] = json!(name)),
];

/// One rule for names, RFC 9110's token, at every field. `policy.explain_header` took
/// letters, digits and `-` only until it shared the rule: Envoy sets any token.
#[test]
fn every_configured_header_name_is_an_rfc_9110_token() {
    for (field, set) in NAME_SITES {
        for good in ["X-Token", "x_token.v2", "x!#$%&'*+^`|~"] {
            assert_eq!(errors_after(|c| set(c, good)), Vec::<String>::new(), "{field} = {good:?}");
        }
        for bad in ["", "x token", "x:token", ":path", "x\ttoken", "x(token)", "x/token", "x\"token", "é"] {
            assert_refused(|c| set(c, bad), &format!("{field}: `{bad}` is not a valid"));
        }
    }
}

#[test]
fn configured_header_names_are_kept_in_lower_case_as_envoy_stores_them() {
    let mut config = config();
    NAME_SITES[0].1(&mut config, "X-Token");
    NAME_SITES[2].1(&mut config, "X-Who");
    NAME_SITES[3].1(&mut config, "X-Why");
    let settings = settings(&config);
    assert_eq!(settings.token_sources, [TokenSource::Header { name: "x-token".into(), prefix: String::new() }]);
    assert_eq!(settings.identity_headers.email, "x-who");
    assert_eq!(settings.policy.explain_header.as_deref(), Some("x-why"));
}

/// Sets the `:authority` or `:path` of a call the filter makes.
type DestinationSite = (&'static str, fn(&mut Value, &str));

const DESTINATION_SITES: [DestinationSite; 4] = [
    ("providers[0].remote_jwks.authority", |c, v| c["providers"][0] = remote_provider(json!({"authority": v}))),
    ("providers[0].remote_jwks.path", |c, v| c["providers"][0] = remote_provider(json!({"path": v}))),
    ("group_lookup.access_token.authority", |c, v| c["group_lookup"] = json!({"backend": "admin_sdk", "cluster": "g", "access_token": {"authority": v}})),
    ("group_lookup.access_token.path", |c, v| c["group_lookup"] = json!({"backend": "admin_sdk", "cluster": "g", "access_token": {"path": v}})),
];

/// The `:authority` and `:path` of the filter's own calls are one word of header-value
/// bytes: no space, tab or other control byte. Bytes past ASCII pass, as they did.
#[test]
fn outbound_authorities_and_paths_are_visible_header_value_bytes() {
    for (field, set) in DESTINATION_SITES {
        assert_eq!(errors_after(|c| set(c, "/h\u{e9}.example")), Vec::<String>::new(), "{field}");
        for bad in [" ", "\t", "\0", "\r", "\n", "\u{7f}"] {
            assert_refused(|c| set(c, &format!("/x{bad}y")), &format!("{field}: must be"));
        }
    }
}

/// The realm is quoted into `WWW-Authenticate` as it is: printable ASCII and spaces,
/// no `"` or `\`, nothing past ASCII.
#[test]
fn the_realm_is_printable_ascii_without_quote_or_backslash() {
    assert_eq!(errors_after(|c| c["realm"] = json!("a realm: ~!#'")), Vec::<String>::new());
    for bad in ["a\"b", "a\\b", "a\tb", "a\u{7f}b", "a\u{e9}b", ""] {
        assert_refused(|c| c["realm"] = json!(bad), "realm: must be non-empty printable ASCII");
    }
}

#[test]
fn the_service_extensions_profile_refuses_what_would_need_a_host_call_it_lacks() {
    let mut config = config();
    config["profile"] = serde_json::json!("service_extensions");
    config["providers"][0].as_object_mut().unwrap().remove("local_jwks");
    config["providers"][0]["remote_jwks"] = serde_json::json!({"cluster": "googleapis", "authority": "www.googleapis.com", "path": "/oauth2/v3/certs"});
    config["group_lookup"] = serde_json::json!({"backend": "cloud_identity", "cluster": "cloudidentity"});
    config["decision_log_to"] = serde_json::json!("access_log");
    config["token_cache_bytes"] = serde_json::json!(8 << 20);
    let message = Settings::from_json(config.to_string().as_bytes()).unwrap_err().to_string();
    for expected in [
        "providers[0].remote_jwks: Service Extensions plugins make no outbound calls",
        "group_lookup: Service Extensions plugins make no outbound calls",
        "decision_log_to: Service Extensions plugins cannot set filter state",
        "token_cache_bytes: must be at most 4194304 under service_extensions",
    ] {
        assert!(message.contains(expected), "{expected}\n{message}");
    }
    let mut inline = support_config_for_service_extensions();
    assert!(Settings::from_json(inline.to_string().as_bytes()).is_ok(), "inline keys and a bounded cache are fine");
    inline["profile"] = serde_json::json!("lambda");
    assert!(Settings::from_json(inline.to_string().as_bytes()).unwrap_err().to_string().contains("profile"));
}

#[test]
fn the_service_extensions_profile_defaults_the_token_cache_to_its_share_of_16_mib() {
    let mut config = support_config_for_service_extensions();
    config.as_object_mut().unwrap().remove("token_cache_bytes");
    let settings = Settings::from_json(config.to_string().as_bytes()).unwrap();
    assert_eq!(settings.token_cache_bytes, 4 << 20);
}

fn support_config_for_service_extensions() -> serde_json::Value {
    let mut config = config();
    config["profile"] = serde_json::json!("service_extensions");
    config["token_cache_bytes"] = serde_json::json!(1 << 20);
    config
}
