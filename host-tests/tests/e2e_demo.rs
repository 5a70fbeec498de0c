//! What `make run` starts, checked as its printed instructions promise: the demo
//! settings and policy in real Envoy, keys fetched from the Google stand-in, one group
//! from the policy's directory and one looked up live. Run with `make e2e`.

mod support;

use serde_json::Value;
use support::*;
use wsgate_core::mint::SigningKey;
use wsgate_host_tests::demo::{self, Demo, DemoOptions, LIVE_GROUP};
use wsgate_host_tests::http::get;

fn demo_token(demo: &Demo, email: &str) -> String {
    bearer(&demo.google.mint(&demo::caller_claims(email, now())).unwrap())
}

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn the_make_run_stack_answers_as_its_instructions_say() {
    let settings = serde_json::from_str::<Value>(&repo_file("envoy/demo-wsgate.template.json")).unwrap();
    let demo = demo::start(DemoOptions {
        stack: options("demo", settings),
        policy: serde_json::from_str::<Value>(&repo_file("policies/demo.json")).unwrap(),
        google_port: 0,
        signing_key: SigningKey::generate_rs256("wsgate-demo-1").unwrap(),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let port = demo.stack.port();
    let alice = demo_token(&demo, "alice@example.com");
    let bob = demo_token(&demo, "bob@partner.example");
    let status = |path: &str, token: Option<&str>| {
        let headers: Vec<(&str, &str)> = token.map(|t| ("authorization", t)).into_iter().collect();
        get(port, path, &headers).unwrap().status
    };
    assert_eq!(status("/healthz", None), 200);
    assert_eq!(status("/hello", None), 401);
    assert_eq!(status("/hello", Some(&alice)), 200, "keys fetched from the stand-in");
    assert_eq!(status("/eng", Some(&alice)), 200, "eng@ from the directory, nested");
    assert_eq!(status("/hello", Some(&bob)), 403);
    let oncall = get(port, "/oncall", &[("authorization", &alice)]).unwrap();
    assert!(upstream_headers(&oncall)["x-workspace-groups"].as_str().unwrap().contains(LIVE_GROUP), "{oncall:?}");
    assert_eq!(status("/oncall", Some(&bob)), 403, "not a member, by the live lookup");
    assert_eq!(demo.google.requests_to("/v1/groups/").len(), 2, "one lookup per user");
    assert_eq!(demo.stack.envoy.counter_reaching("wasmcustom.wsgate.jwks.google.fetched", 1), 1);
}
