//! Envoy + wsgate.wasm + the echo upstream, started together: what `make run` shows a
//! user and what every end-to-end test talks to.

use crate::envoy::{Envoy, Launch, Ports, render};
use crate::ports::free_port;
use crate::upstream::EchoUpstream;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Where things are and which ports to use (`None`: any free port).
pub struct StackOptions {
    pub envoy_binary: PathBuf,
    pub wasm: PathBuf,
    /// The text of an Envoy config template such as `envoy/demo.yaml`.
    pub envoy_template: String,
    pub plugin_config: Value,
    /// Directory for the rendered config and Envoy's log.
    pub dir: PathBuf,
    pub listen_port: Option<u16>,
    pub admin_port: Option<u16>,
    /// HTTP filters placed before wsgate (see [`crate::envoy::tap_filter`]).
    pub extra_http_filters: String,
    /// Clusters beside the upstream's, such as the ones a `remote_jwks` names (see
    /// [`crate::envoy::http_cluster`]).
    pub extra_clusters: String,
    /// Envoy worker threads, each with its own plugin VM (`--concurrency`).
    pub workers: u32,
    /// Envoy's environment: the secrets `vm_config.environment_variables` passes on.
    pub environment: Vec<(String, String)>,
}

pub struct Stack {
    pub upstream: EchoUpstream,
    pub envoy: Envoy,
}

impl Stack {
    /// Starts Envoy and the upstream; Envoy may still be starting when this returns
    /// (see [`Stack::start_ready`]).
    pub fn start(options: &StackOptions) -> Result<Stack, String> {
        let upstream = EchoUpstream::start(0).map_err(|e| format!("echo upstream: {e}"))?;
        let port = |fixed: Option<u16>| fixed.map_or_else(free_port, Ok).map_err(|e| format!("no free port: {e}"));
        let ports = Ports { listen: port(options.listen_port)?, admin: port(options.admin_port)?, upstream: upstream.port };
        let config = render(&options.envoy_template, ports, &options.wasm, &options.plugin_config.to_string(), &options.extra_http_filters)
            .replace("{{EXTRA_CLUSTERS}}", &options.extra_clusters);
        let launch = Launch { cpu: None, workers: options.workers, component_log_level: None, environment: options.environment.clone() };
        let envoy = Envoy::start_with(&options.envoy_binary, &config, &options.dir, ports, &launch)?;
        Ok(Stack { upstream, envoy })
    }

    /// Starts everything and waits until Envoy serves.
    pub fn start_ready(options: &StackOptions) -> Result<Stack, String> {
        let mut stack = Stack::start(options)?;
        stack.envoy.wait_ready(Duration::from_secs(30))?;
        Ok(stack)
    }

    pub fn port(&self) -> u16 {
        self.envoy.ports.listen
    }
}
