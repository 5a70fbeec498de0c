//! `make soak`: N requests through real Envoy + wsgate.wasm in front of an upstream,
//! with the Google stand-in publishing the ID-token keys (rotated every `--rotate-every`
//! requests), issuing the metadata token and answering the live group lookups. Counts
//! wrong answers in both directions, reports the plugin VM's memory and latency every
//! `--report-every` requests, writes `<out>/result.json`. Stops after `--requests` or
//! `--max-seconds`, whichever first. Never part of `make test`.

use clap::Parser;
use serde_json::Value;
use std::path::{Path, PathBuf};
use wsgate_host_tests::soak::run::{Options, run};

#[derive(Parser)]
#[command(about = "Soak wsgate in real Envoy: key rotations, live group changes, wrong answers counted both ways")]
struct Args {
    #[arg(long)]
    envoy: PathBuf,
    #[arg(long)]
    wasm: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// Rotate the ID-token signing key every this many requests (0: never); the old
    /// key is retired half as many requests later.
    #[arg(long, default_value_t = 100_000)]
    rotate_every: u64,
    #[arg(long, default_value_t = 100_000)]
    report_every: u64,
    /// Keep-alive client connections, one thread each.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Stop sending after this long even if requests remain.
    #[arg(long, default_value_t = 1800)]
    max_seconds: u64,
    /// Where result.json, Envoy's config and log go. May be repeated, the last one wins
    /// (`make soak` passes `--out target/soak` before `SOAK_ARGS`).
    #[arg(long, default_value = "target/soak", overrides_with = "out")]
    out: PathBuf,
    /// Envoy worker threads (one plugin VM each).
    #[arg(long, default_value_t = 1)]
    workers: u32,
    /// Do not pin Envoy to CPU 0 and the load to CPU 1.
    #[arg(long)]
    no_pin: bool,
    /// Cache-Control max-age of the keys the Google stand-in publishes, in seconds.
    #[arg(long, default_value_t = 30)]
    keys_max_age: u64,
    /// group_lookup.ttl_seconds / negative_ttl_seconds.
    #[arg(long, default_value_t = 5)]
    group_ttl: u64,
    #[arg(long, default_value_t = 3)]
    negative_ttl: u64,
    /// Users removed from (and added to) the live group at each change.
    #[arg(long, default_value_t = 10)]
    flip: usize,
    /// When the live group changes, as fractions of --requests (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.65")]
    change_at: Vec<f64>,
    /// The plugin's decision_log (`denied` keeps Envoy's log to about a tenth of the requests).
    #[arg(long, default_value = "denied")]
    decision_log: String,
    #[arg(long, default_value = "envoy/demo.yaml")]
    envoy_template: PathBuf,
    #[arg(long, default_value = "envoy/demo-wsgate.template.json")]
    config: PathBuf,
    #[arg(long, default_value = "policies/demo.json")]
    policy: PathBuf,
}

fn main() {
    let args = Args::parse();
    match options(&args).and_then(|o| run(&o)) {
        Ok(result) => {
            let wrong = result["wrong_answers"]["total"].as_u64().unwrap_or(0);
            if wrong > 0 || result["stopped_by"] == "envoy_exited" {
                eprintln!("wsgate-soak: {wrong} wrong answers, stopped by {}; see {}", result["stopped_by"], args.out.join("result.json").display());
                std::process::exit(2);
            }
        }
        Err(message) => {
            eprintln!("wsgate-soak: {message}");
            std::process::exit(1);
        }
    }
}

fn options(args: &Args) -> Result<Options, String> {
    Ok(Options {
        envoy: args.envoy.clone(),
        wasm: args.wasm.clone(),
        envoy_template: read(&args.envoy_template)?,
        plugin_config: read_json(&args.config)?,
        policy: read_json(&args.policy)?,
        requests: args.requests,
        rotate_every: args.rotate_every,
        report_every: args.report_every,
        connections: args.connections.max(1),
        users: args.users.max(10),
        max_seconds: args.max_seconds,
        out: args.out.clone(),
        workers: args.workers.max(1),
        pin: !args.no_pin,
        keys_max_age: args.keys_max_age,
        group_ttl: args.group_ttl,
        negative_ttl: args.negative_ttl,
        flip: args.flip,
        change_at: args.change_at.clone(),
        decision_log: args.decision_log.clone(),
    })
}

fn read_json(path: &Path) -> Result<Value, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}
