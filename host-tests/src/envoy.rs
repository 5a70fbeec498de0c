//! Real Envoy as a child process: render its config from `envoy/demo.yaml`, start it
//! on loopback, wait until it is ready, read its log and stats, stop it on drop.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The ports an Envoy config is rendered with.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub listen: u16,
    pub admin: u16,
    pub upstream: u16,
}

/// Fills the template's placeholders. The plugin configuration goes in as a JSON
/// string literal, which is also a valid YAML double-quoted scalar.
/// `extra_http_filters` (YAML list items, indented as in the template) go before wsgate.
pub fn render(template: &str, ports: Ports, wasm: &Path, plugin_config: &str, extra_http_filters: &str) -> String {
    let quoted = serde_json::to_string(plugin_config).unwrap_or_default();
    template
        .replace("{{LISTEN_PORT}}", &ports.listen.to_string())
        .replace("{{ADMIN_PORT}}", &ports.admin.to_string())
        .replace("{{UPSTREAM_PORT}}", &ports.upstream.to_string())
        .replace("{{WASM_PATH}}", &wasm.display().to_string())
        .replace("{{PLUGIN_CONFIG}}", &quoted)
        .replace("{{EXTRA_HTTP_FILTERS}}", extra_http_filters)
}

/// How [`Envoy::start_with`] runs Envoy, beyond its configuration.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Pins Envoy to this CPU with `taskset`.
    pub cpu: Option<u32>,
    /// Worker threads, one plugin VM each (`--concurrency`).
    pub workers: u32,
    /// `--component-log-level`, e.g. `wasm:trace` to log every call into and out of a
    /// plugin VM (the rest stays at `info`).
    pub component_log_level: Option<String>,
    /// Variables set in Envoy's environment (secrets `host_env_keys` passes on).
    pub environment: Vec<(String, String)>,
}

/// A running Envoy; killed when dropped.
pub struct Envoy {
    child: Child,
    pub ports: Ports,
    log_path: PathBuf,
}

impl Envoy {
    /// Writes `config` to `dir/envoy.yaml` and starts Envoy with it, logging to
    /// `dir/envoy.log`. One worker thread: these machines have two cores.
    pub fn start(binary: &Path, config: &str, dir: &Path, ports: Ports) -> Result<Envoy, String> {
        Envoy::start_on(binary, config, dir, ports, None, 1)
    }

    /// Like [`Envoy::start`], pinned to one CPU with `taskset` when `cpu` is given, so a
    /// load generator can have the other core, and with `workers` worker threads (one
    /// plugin VM each).
    pub fn start_on(binary: &Path, config: &str, dir: &Path, ports: Ports, cpu: Option<u32>, workers: u32) -> Result<Envoy, String> {
        Envoy::start_with(binary, config, dir, ports, &Launch { cpu, workers, component_log_level: None, environment: Vec::new() })
    }

    /// Like [`Envoy::start_on`], with every [`Launch`] option.
    pub fn start_with(binary: &Path, config: &str, dir: &Path, ports: Ports, launch: &Launch) -> Result<Envoy, String> {
        let Launch { cpu, workers, component_log_level, environment } = launch;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let config_path = dir.join("envoy.yaml");
        let log_path = dir.join("envoy.log");
        std::fs::write(&config_path, config).map_err(|e| format!("{}: {e}", config_path.display()))?;
        let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut command = match cpu {
            Some(cpu) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", &cpu.to_string()]).arg(binary);
                taskset
            }
            None => Command::new(binary),
        };
        command
            .arg("-c")
            .arg(&config_path)
            .args(["--concurrency", &workers.to_string(), "--disable-hot-restart", "--log-level", "info"]);
        if let Some(levels) = component_log_level {
            command.args(["--component-log-level", levels]);
        }
        command.envs(environment.iter().map(|(name, value)| (name, value)));
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        Ok(Envoy { child, ports, log_path })
    }

    /// Runs `command`, which starts Envoy itself (a kit's entrypoint script), logging
    /// to `dir/envoy.log`; `ports` are the ports its configuration uses.
    pub fn start_command(mut command: Command, dir: &Path, ports: Ports) -> Result<Envoy, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let log_path = dir.join("envoy.log");
        let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        Ok(Envoy { child, ports, log_path })
    }

    /// Waits until the admin endpoint answers `/ready` with 200, or fails with the
    /// log's tail if Envoy exits or takes longer than `timeout`.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("envoy exited ({status}) before it was ready:\n{}", self.log_tail(40)));
            }
            if crate::http::get(self.ports.admin, "/ready", &[]).is_ok_and(|r| r.status == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("envoy not ready after {timeout:?}:\n{}", self.log_tail(40)))
    }

    /// Waits for Envoy to exit by itself (e.g. after refusing its configuration).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Whether Envoy is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Sets one logger's level while Envoy runs (admin `POST /logging`).
    pub fn set_log_level(&self, component: &str, level: &str) -> Result<(), String> {
        match crate::http::request(self.ports.admin, "POST", &format!("/logging?{component}={level}"), &[]) {
            Ok(response) if response.status == 200 => Ok(()),
            Ok(response) => Err(format!("admin /logging: {} {}", response.status, response.body)),
            Err(e) => Err(format!("admin /logging: {e}")),
        }
    }

    /// Counters whose name contains `filter`, as `name: value` lines.
    pub fn stats(&self, filter: &str) -> Result<String, String> {
        crate::http::get(self.ports.admin, &format!("/stats?filter={filter}"), &[])
            .map(|r| r.body)
            .map_err(|e| format!("admin /stats: {e}"))
    }

    /// The value of one counter, 0 if Envoy does not list it.
    pub fn counter(&self, name: &str) -> u64 {
        let stats = self.stats(name).unwrap_or_default();
        stats
            .lines()
            .filter_map(|line| line.split_once(": "))
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The value of one counter once it reaches `expected`, or what it is after
    /// three seconds: the plugin hands its counts to Envoy once a second.
    pub fn counter_reaching(&self, name: &str, expected: u64) -> u64 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            let value = self.counter(name);
            if value == expected || std::time::Instant::now() > deadline {
                return value;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain-HTTP cluster to a local port, as a `clusters:` list item of
/// `envoy/demo.yaml`: how the tests and `make run` reach the Google stand-in. Real
/// Google endpoints need TLS; see `envoy/google-clusters.yaml`.
pub fn http_cluster(name: &str, port: u16) -> String {
    format!(
        "  - name: {name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{ address: 127.0.0.1, port_value: {port} }}
"
    )
}

/// The tap filter, recording every exchange as a JSON trace file under `path_prefix`.
pub fn tap_filter(path_prefix: &Path) -> String {
    format!(
        "          - name: envoy.filters.http.tap
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.filters.http.tap.v3.Tap
              common_config:
                static_config:
                  match: {{ any_match: true }}
                  output_config:
                    sinks:
                    - format: JSON_BODY_AS_STRING
                      file_per_tap: {{ path_prefix: \"{}\" }}",
        path_prefix.display()
    )
}
