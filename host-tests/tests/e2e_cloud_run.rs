//! The Cloud Run kit (`envoy/cloud-run/`) run from its own files under Cloud Run's
//! container contract, simulated on 127.0.0.1: `PORT` set for the ingress container, the
//! app on its own port, the sign-in's secrets in the environment as Secret Manager puts
//! them there, and Google's endpoints and the metadata server played by the stand-in.
//! The only changes to `envoy/cloud-run/envoy.yaml` are the ones
//! `envoy/cloud-run/local-overrides.json` lists. Run with `make e2e`.

mod support;

use serde_json::Value;
use support::*;
use wsgate_core::mint::SigningKey;
use wsgate_fixtures::GoogleClaims;
use wsgate_host_tests::envoy::{Envoy, Ports, http_cluster};
use wsgate_host_tests::google::GoogleStandIn;
use wsgate_host_tests::http::get;
use wsgate_host_tests::ports::free_port;
use wsgate_host_tests::upstream::EchoUpstream;

const SERVICE_URL: &str = "https://hello-abc123-uc.a.run.app";
const IAP_BACKEND: &str = "/projects/123456789012/global/backendServices/1234567890";

/// The marked block of Google's clusters in the kit's Envoy config.
fn google_block(kit: &str) -> &str {
    let start = kit.find("  # BEGIN google-clusters").unwrap();
    let end = kit.find("  # END google-clusters").unwrap();
    &kit[start..end]
}

/// The kit's Envoy config with `local-overrides.json` applied.
fn overridden(kit: &str, google: &GoogleStandIn, app_port: u16, admin_port: u16) -> String {
    let overrides: Value = serde_json::from_str(&repo_file("envoy/cloud-run/local-overrides.json")).unwrap();
    let fill = |text: &str| {
        text.replace("{{WASM}}", &std::env::var("WSGATE_WASM").unwrap())
            .replace("{{APP_PORT}}", &app_port.to_string())
            .replace("{{ADMIN_PORT}}", &admin_port.to_string())
            .replace("{{GOOGLE_PORT}}", &google.port.to_string())
    };
    let mut config = kit.to_owned();
    for rule in overrides["replace"].as_array().unwrap() {
        let from = rule["from"].as_str().unwrap();
        assert!(config.contains(from), "the override `{from}` no longer matches the kit");
        config = config.replace(from, &fill(rule["to"].as_str().unwrap()));
    }
    let names: Vec<&str> = google_block(kit).lines().filter_map(|l| l.strip_prefix("  - name: ")).collect();
    let port: u16 = fill(overrides["google_clusters_to"].as_str().unwrap()).rsplit(':').next().unwrap().parse().unwrap();
    let local: String = names.iter().map(|name| http_cluster(name, port)).collect();
    config.replace(google_block(kit), &local)
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn the_kit_keeps_googles_clusters_as_the_documented_file_has_them() {
    let kit = repo_file("envoy/cloud-run/envoy.yaml");
    let documented = repo_file("envoy/google-clusters.yaml");
    let entries = &documented[documented.find("- name: googleapis").unwrap()..];
    let indented: String = entries.lines().map(|l| if l.is_empty() { "\n".to_owned() } else { format!("  {l}\n") }).collect();
    let block = google_block(&kit);
    assert_eq!(&block[block.find('\n').unwrap() + 1..], indented, "envoy/cloud-run/envoy.yaml's Google clusters drifted from envoy/google-clusters.yaml");
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn serverless_and_iap_callers_get_through_the_kit_and_a_caller_without_a_token_does_not() {
    let google = GoogleStandIn::start_on(0, SigningKey::generate_rs256("cloud-run-1").unwrap()).unwrap();
    google.set_members("oncall@example.com", &["alice@example.com"]);
    let app = EchoUpstream::start(0).unwrap();
    let ports = Ports { listen: free_port().unwrap(), admin: free_port().unwrap(), upstream: app.port };
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e").join("cloud-run");
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("envoy.yaml");
    std::fs::write(&template, overridden(&repo_file("envoy/cloud-run/envoy.yaml"), &google, app.port, ports.admin)).unwrap();
    let mut entrypoint = std::process::Command::new("sh");
    entrypoint
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../envoy/cloud-run/entrypoint.sh"))
        .env("PORT", ports.listen.to_string())
        .env("ENVOY_BIN", std::env::var("WSGATE_ENVOY").unwrap())
        .env("ENVOY_CONCURRENCY", "1")
        .env("WSGATE_ENVOY_TEMPLATE", &template)
        .env("TMPDIR", &dir)
        // As Cloud Run puts Secret Manager secrets in the container's environment.
        .env("WSGATE_CLIENT_SECRET", "GOCSPX-e2e-only")
        .env("WSGATE_COOKIE_KEYS", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=");
    let mut envoy = Envoy::start_command(entrypoint, &dir, ports).unwrap();
    envoy.wait_ready(std::time::Duration::from_secs(30)).unwrap();

    let now = now();
    let serverless = google.mint(&GoogleClaims::id_token("alice@example.com", SERVICE_URL, now).issued_ago(5).build()).unwrap();
    let response = get(ports.listen, "/app/reports", &[("x-serverless-authorization", &format!("Bearer {serverless}"))]).unwrap();
    assert_eq!(response.status, 200, "{}\n{}", response.body, envoy.log());
    assert_eq!(upstream_headers(&response)["x-workspace-email"], "alice@example.com");

    let iap = google.mint_iap(&GoogleClaims::iap_assertion("bob@example.com", IAP_BACKEND, now).issued_ago(5).build()).unwrap();
    let response = get(ports.listen, "/app/reports", &[("x-goog-iap-jwt-assertion", &iap)]).unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(upstream_headers(&response)["x-workspace-email"], "bob@example.com");

    let oncall = get(ports.listen, "/oncall", &[("x-serverless-authorization", &format!("Bearer {serverless}"))]).unwrap();
    assert_eq!(oncall.status, 200, "group looked up with the metadata server's token: {}", oncall.body);
    assert!(!google.requests_to("/computeMetadata/v1/instance/service-accounts/default/token").is_empty());

    let anonymous = get(ports.listen, "/app/reports", &[]).unwrap();
    assert_eq!((anonymous.status, anonymous.header("www-authenticate")), (401, Some("Bearer realm=\"wsgate\"")));
    let navigation = get(ports.listen, "/app/reports", &[("sec-fetch-mode", "navigate"), ("host", "hello-abc123-uc.a.run.app")]).unwrap();
    assert_eq!(navigation.status, 302, "a browser is sent to sign in: the secrets reached the plugin");
}
