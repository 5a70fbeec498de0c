//! Helpers for the harness tests: the real wsgate.wasm loaded once, a plugin started
//! at a fixed time, and what to read back from an exchange.

use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;
use wsgate_harness::Harness;
use wsgate_harness::plugin::{Exchange, HttpRequest, Plugin};
use wsgate_harness::state::PendingCall;

/// The harness tests' clock starts here (Unix seconds).
pub const T0: u64 = 1_900_000_000;

pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let wasm = std::env::var("WSGATE_WASM").expect("WSGATE_WASM is not set: run `make harness`");
        Harness::load(&PathBuf::from(wasm)).unwrap()
    })
}

/// A plugin configured with `plugin_config`, its clock at [`T0`].
pub fn start(plugin_config: &[u8]) -> Plugin {
    harness().start(plugin_config, T0 * 1_000_000_000).unwrap()
}

/// Like [`start`], with `environment` in the VM's environment (secrets).
pub fn start_with_env(plugin_config: &[u8], environment: &[(String, String)]) -> Plugin {
    harness().start_with_env(plugin_config, T0 * 1_000_000_000, environment).unwrap()
}

pub fn set_seconds(plugin: &mut Plugin, seconds: u64) {
    plugin.set_time(seconds * 1_000_000_000);
}

/// `GET https://api.example.com{path}` with `Authorization: Bearer {token}`.
pub fn get_with_bearer(plugin: &mut Plugin, path: &str, token: &str) -> Exchange {
    plugin.send(&bearer_request("GET", path, token)).unwrap()
}

/// `{method} https://api.example.com{path}` with `Authorization: Bearer {token}`,
/// no body.
pub fn bearer_request(method: &str, path: &str, token: &str) -> HttpRequest {
    HttpRequest {
        headers: vec![
            (":method".into(), method.into()),
            (":path".into(), path.into()),
            (":authority".into(), "api.example.com".into()),
            ("authorization".into(), format!("Bearer {token}")),
        ],
        ..HttpRequest::default()
    }
}

/// A header of an HTTP call the plugin made.
pub fn call_header(call: &PendingCall, name: &str) -> Option<String> {
    call.headers.iter().find(|(n, _)| n == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}

/// The reason code of a local reply's JSON body; empty if forwarded.
pub fn error_code(exchange: &Exchange) -> String {
    let body = exchange.local_reply.as_ref().map(|r| r.body.clone()).unwrap_or_default();
    serde_json::from_slice::<Value>(&body).map(|b| b["error"].as_str().unwrap_or_default().to_owned()).unwrap_or_default()
}

/// A metric's value after a root tick (counts reach the host on ticks).
pub fn metric(plugin: &mut Plugin, name: &str) -> u64 {
    plugin.tick().unwrap();
    plugin.metric(name).unwrap_or_else(|| panic!("no metric {name}"))
}
