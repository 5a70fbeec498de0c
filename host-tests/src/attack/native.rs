//! The corpus's policy written with Envoy's native filters (`envoy/native-equivalent.yaml`),
//! rendered with ports and the test keys.

use crate::envoy::Ports;
use wsgate_core::mint::TestKeys;

/// `envoy/native-equivalent.yaml` (its text in `template`) filled in.
pub fn render(template: &str, ports: Ports) -> String {
    let jwks = TestKeys::shared().jwks().to_string();
    template
        .replace("{{LISTEN_PORT}}", &ports.listen.to_string())
        .replace("{{ADMIN_PORT}}", &ports.admin.to_string())
        .replace("{{UPSTREAM_PORT}}", &ports.upstream.to_string())
        .replace("{{JWKS}}", &serde_json::to_string(&jwks).unwrap_or_default())
}
