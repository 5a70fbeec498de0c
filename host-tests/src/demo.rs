//! The stack `make run` starts, wired as in production but on 127.0.0.1: Envoy with
//! wsgate in front of the echo upstream, fetching Google's keys and looking groups up
//! live (with a metadata-server token) from the local Google stand-in, through
//! clusters named as in `envoy/google-clusters.yaml`.

use crate::envoy::http_cluster;
use crate::google::GoogleStandIn;
use crate::google_oidc::OAuthClient;
use crate::ports::free_port;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
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
/// The people who can sign in at the stand-in, with their Workspace domains.
pub const SIGN_IN_ACCOUNTS: [(&str, &str); 2] = [("alice@example.com", "example.com"), ("bob@partner.example", "partner.example")];
/// Where the sign-in secrets sit in Envoy's environment (the demo settings name them).
pub const CLIENT_SECRET_ENV: &str = "WSGATE_CLIENT_SECRET";
pub const COOKIE_KEYS_ENV: &str = "WSGATE_COOKIE_KEYS";

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
    if stack.plugin_config.get("sign_in").is_some() {
        wire_sign_in(&mut stack, &google)?;
    }
    stack.extra_clusters = ["googleapis", "cloudidentity", "metadata"].map(|name| http_cluster(name, google.port)).concat();
    let stack = Stack::start_ready(&stack)?;
    Ok(Demo { stack, google })
}

/// Points the settings' `sign_in` at the stand-in and at Envoy's own callback URL,
/// registers the OAuth client there with a fresh secret, and puts that secret and a
/// fresh session key in Envoy's environment (never in the settings).
fn wire_sign_in(stack: &mut StackOptions, google: &GoogleStandIn) -> Result<(), String> {
    let port = match stack.listen_port {
        Some(port) => port,
        None => free_port().map_err(|e| format!("no free port: {e}"))?,
    };
    stack.listen_port = Some(port);
    let redirect_uri = format!("http://127.0.0.1:{port}/_wsgate/callback");
    let sign_in = &mut stack.plugin_config["sign_in"];
    sign_in["redirect_uri"] = Value::from(redirect_uri.clone());
    sign_in["authorization_endpoint"] = Value::from(format!("http://127.0.0.1:{}/o/oauth2/v2/auth", google.port));
    let client_id = sign_in["client_id"].as_str().ok_or("sign_in.client_id is missing")?.to_owned();
    let secret = format!("GOCSPX-{}", random_base64::<18>()?.replace(['+', '/', '='], "x"));
    google.register_client(OAuthClient { id: client_id, secret: secret.clone(), redirect_uris: vec![redirect_uri] });
    for (email, domain) in SIGN_IN_ACCOUNTS {
        google.add_account(email, Some(domain));
    }
    stack.environment = vec![(CLIENT_SECRET_ENV.to_owned(), secret), (COOKIE_KEYS_ENV.to_owned(), random_base64::<32>()?)];
    Ok(())
}

/// `N` random bytes from the OS, in base64.
fn random_base64<const N: usize>() -> Result<String, String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(STANDARD.encode(bytes))
}
