//! The Envoy configurations `make bench` compares: the same route, the same policy.

use serde_json::{Value, json};
use std::path::Path;
use wsgate_fixtures::configs::google_provider;
use wsgate_fixtures::patched;

/// The service the bench's tokens are for.
pub const AUDIENCE: &str = "wsgate-bench";

/// Fills `envoy/bench.yaml` with ports, the auth filters under test and, if given, a
/// file access log at `access_log` that writes wsgate's decision line.
pub fn render(template: &str, listen: u16, admin: u16, auth_filters: &str, access_log: Option<&Path>) -> String {
    let logger = access_log.map(|path| {
        format!(
            "          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {}
              log_format: {{ text_format_source: {{ inline_string: \"%START_TIME% %RESPONSE_CODE% %FILTER_STATE(wasm.wsgate_decision:PLAIN)%\\n\" }} }}",
            path.display()
        )
    });
    template
        .replace("{{LISTEN_PORT}}", &listen.to_string())
        .replace("{{ADMIN_PORT}}", &admin.to_string())
        .replace("{{AUTH_FILTERS}}", auth_filters)
        .replace("{{ACCESS_LOG}}", &logger.unwrap_or_default())
}

/// `envoy/bench-native-filters.yaml` with the JWKS; `jwt_cache_size` 0 turns the
/// native JWT cache off (for the cache-miss mode).
pub fn native_filters(template: &str, jwks: &Value, jwt_cache_size: u32) -> String {
    let body: Vec<&str> = template.lines().filter(|l| !l.starts_with('#')).collect();
    let filters = body.join("\n").replace("{{JWKS}}", &serde_json::to_string(&jwks.to_string()).unwrap_or_default());
    if jwt_cache_size == 0 {
        filters.lines().filter(|l| !l.contains("jwt_cache_config")).collect::<Vec<_>>().join("\n")
    } else {
        filters.replace("{{JWT_CACHE_SIZE}}", &jwt_cache_size.to_string())
    }
}

/// The wsgate filter with the policy the native pair expresses: hd example.com,
/// verified email, member of eng@example.com (from the token's groups claim).
pub fn wsgate_filter(wasm: &Path, jwks: &Value, token_cache_entries: usize, decision_log: &str) -> String {
    wsgate_filter_logging_to(wasm, jwks, token_cache_entries, decision_log, "envoy_log")
}

/// [`wsgate_filter`] with `decision_log_to` set.
pub fn wsgate_filter_logging_to(wasm: &Path, jwks: &Value, token_cache_entries: usize, decision_log: &str, decision_log_to: &str) -> String {
    let mut config = json!({
        "providers": [patched(google_provider(AUDIENCE, jwks), &json!({"allowed_domains": ["example.com"]}))],
        "policy": {"rules": [{"name": "engineering", "effect": "allow", "subjects": {"groups": ["eng@example.com"]}}]},
        "token_cache_entries": token_cache_entries,
        "decision_log": decision_log
    });
    // Left out at its default, so `--compare-wasm` can run builds older than the field.
    if decision_log_to != "envoy_log" {
        config["decision_log_to"] = json!(decision_log_to);
    }
    wasm_filter(wasm, &config)
}

/// The session key and client secret of the bench's sign-in, as Envoy's environment
/// holds them (bench only).
pub const SIGN_IN_ENVIRONMENT: [(&str, &str); 2] = [("WSGATE_CLIENT_SECRET", "GOCSPX-bench"), ("WSGATE_COOKIE_KEYS", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")];
/// The OAuth client of the bench's sign-in.
pub const BROWSER_CLIENT: &str = "wsgate-bench-browser.apps.googleusercontent.com";

/// wsgate with sign-in on every path and a domain policy (example.com): the same
/// gate answers bearer callers and signed-in browsers, so the two can be compared.
pub fn wsgate_sign_in_filter(wasm: &Path, jwks: &Value) -> String {
    let names: Vec<&str> = SIGN_IN_ENVIRONMENT.iter().map(|(name, _)| *name).collect();
    wasm_filter(wasm, &sign_in_config(jwks)).replace("                  vm_id: wsgate\n", &format!("                  vm_id: wsgate\n                  environment_variables: {{ host_env_keys: {names:?} }}\n"))
}

/// The settings of [`wsgate_sign_in_filter`]; the bench's sessions are sealed for them.
pub fn sign_in_config(jwks: &Value) -> Value {
    json!({
        "providers": [patched(google_provider(AUDIENCE, jwks), &json!({"allowed_domains": ["example.com"], "audiences": [AUDIENCE, BROWSER_CLIENT]}))],
        "policy": {"rules": [{"name": "staff", "effect": "allow", "subjects": {"domains": ["example.com"]}}]},
        "sign_in": {
            "provider": "google", "client_id": BROWSER_CLIENT, "client_secret_env": SIGN_IN_ENVIRONMENT[0].0, "cookie_keys_env": SIGN_IN_ENVIRONMENT[1].0,
            "redirect_uri": "http://127.0.0.1/_wsgate/callback", "token_endpoint": {"cluster": "unused"}, "secure_cookies": false
        }
    })
}

/// Any proxy-wasm filter in the V8 runtime, as wsgate is configured.
pub fn wasm_filter(wasm: &Path, config: &Value) -> String {
    let quoted = serde_json::to_string(&config.to_string()).unwrap_or_default();
    format!(
        "          - name: wsgate
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: wsgate
                root_id: wsgate
                fail_open: false
                vm_config:
                  vm_id: wsgate
                  runtime: envoy.wasm.runtime.v8
                  code: {{ local: {{ filename: \"{}\" }} }}
                configuration:
                  \"@type\": type.googleapis.com/google.protobuf.StringValue
                  value: {quoted}",
        wasm.display()
    )
}
