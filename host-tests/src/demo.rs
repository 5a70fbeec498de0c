//! The stack `make run` starts, wired as in production but on 127.0.0.1: Envoy with
//! wsgate in front of the echo upstream, fetching Google's keys and looking groups up
//! live (with a metadata-server token) from the local Google stand-in, through
//! clusters named as in `envoy/google-clusters.yaml`.

use crate::envoy::http_cluster;
use crate::google::GoogleStandIn;
use crate::stack::{Stack, StackOptions};
use serde_json::Value;
use wsgate_core::mint::SigningKey;
use wsgate_fixtures::GoogleClaims;

/// The audience the demo settings (`envoy/demo-wsgate.template.json`) accept.
pub const AUDIENCE: &str = "wsgate-demo";
/// The group the demo policy leaves to the live lookup (it is not in its directory).
pub const LIVE_GROUP: &str = "oncall@example.com";
/// Its members, as the stand-in's Cloud Identity answers.
pub const LIVE_GROUP_MEMBERS: [&str; 1] = ["alice@example.com"];

pub struct DemoOptions {
    /// Envoy, the .wasm and the demo settings (`envoy/demo-wsgate.template.json`,
    /// without a policy); the clusters reaching the stand-in are added.
    pub stack: StackOptions,
    /// The policy document (`policies/demo.json`).
    pub policy: Value,
    /// 0: any free port.
    pub google_port: u16,
    /// The key the stand-in publishes and signs ID tokens with.
    pub signing_key: SigningKey,
}

pub struct Demo {
    pub stack: Stack,
    pub google: GoogleStandIn,
}

/// The claims of a demo caller's Google ID token, issued at `now` for an hour.
pub fn caller_claims(email: &str, now: u64) -> Value {
    GoogleClaims::id_token(email, AUDIENCE, now).build()
}

/// Starts the stand-in, then Envoy, and waits until Envoy serves.
pub fn start(options: DemoOptions) -> Result<Demo, String> {
    let google = GoogleStandIn::start_on(options.google_port, options.signing_key)?;
    google.set_members(LIVE_GROUP, &LIVE_GROUP_MEMBERS);
    let mut stack = options.stack;
    stack.plugin_config["policy"] = options.policy;
    stack.extra_clusters = ["googleapis", "cloudidentity", "metadata"].map(|name| http_cluster(name, google.port)).concat();
    let stack = Stack::start_ready(&stack)?;
    Ok(Demo { stack, google })
}
