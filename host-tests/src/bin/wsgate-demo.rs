//! `make run`: Envoy + wsgate + an echo upstream + the local Google stand-in on
//! 127.0.0.1 (keys fetched and groups looked up live, as in production), until Ctrl-C.

use clap::Parser;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wsgate_core::mint::SigningKey;
use wsgate_host_tests::demo::{self, Demo, DemoOptions, LIVE_GROUP, LIVE_GROUP_MEMBERS};
use wsgate_host_tests::stack::{Stack, StackOptions};

#[derive(Parser)]
#[command(about = "Run Envoy with wsgate in front of a demo upstream on 127.0.0.1")]
struct Args {
    #[arg(long)]
    envoy: PathBuf,
    #[arg(long)]
    wasm: PathBuf,
    /// The `wsgate` CLI, to print how to mint more tokens.
    #[arg(long)]
    cli: PathBuf,
    /// Plugin config without a policy.
    #[arg(long)]
    config: PathBuf,
    /// The policy document to run with.
    #[arg(long)]
    policy: PathBuf,
    #[arg(long)]
    envoy_template: PathBuf,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    #[arg(long, default_value_t = 9901)]
    admin_port: u16,
    /// Where the Google stand-in listens (certs, metadata token, Cloud Identity).
    #[arg(long, default_value_t = 8090)]
    google_port: u16,
    #[arg(long, default_value = "target/demo")]
    dir: PathBuf,
}

fn main() {
    if let Err(message) = run(&Args::parse()) {
        eprintln!("wsgate-demo: {message}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let key_path = args.dir.join("signing-key.json");
    let key = demo_key(&key_path)?;
    let tokens = mint_examples(&key, &args.dir)?;
    println!("run: starting the Google stand-in on 127.0.0.1:{} and Envoy on 127.0.0.1:{} (admin 127.0.0.1:{}) …", args.google_port, args.port, args.admin_port);
    let Demo { mut stack, google } = demo::start(DemoOptions {
        stack: StackOptions {
            envoy_binary: args.envoy.clone(),
            wasm: args.wasm.clone(),
            envoy_template: read(&args.envoy_template)?,
            plugin_config: read_json(&args.config)?,
            dir: args.dir.clone(),
            listen_port: Some(args.port),
            admin_port: Some(args.admin_port),
            extra_http_filters: String::new(),
            extra_clusters: String::new(),
            workers: 1,
            environment: Vec::new(),
        },
        policy: read_json(&args.policy)?,
        google_port: args.google_port,
        signing_key: key,
    })?;
    print_instructions(args, &stack, google.port, &key_path, &tokens);
    wait_for_ctrl_c(&mut stack)
}

/// Reuses the key of an earlier run, so tokens minted then keep working.
fn demo_key(path: &Path) -> Result<SigningKey, String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return SigningKey::from_private_jwk(&text);
    }
    println!("run: generating a demo signing key (demo only, never trusted outside this demo)");
    let key = SigningKey::generate_rs256("wsgate-demo-1")?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, key.to_private_jwk()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(key)
}

/// One token per demo caller, written to `<dir>/<name>.jwt`.
fn mint_examples(key: &SigningKey, dir: &Path) -> Result<Vec<(&'static str, PathBuf)>, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let callers = [("alice", "alice@example.com"), ("bob", "bob@partner.example")];
    let mut written = Vec::new();
    for (name, email) in callers {
        let path = dir.join(format!("{name}.jwt"));
        std::fs::write(&path, key.sign(&demo::caller_claims(email, now))?).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push((name, path));
    }
    Ok(written)
}

fn print_instructions(args: &Args, stack: &Stack, google_port: u16, key_path: &Path, tokens: &[(&str, PathBuf)]) {
    let url = format!("http://127.0.0.1:{}", stack.port());
    let token = |name: &str| tokens.iter().find(|(n, _)| *n == name).map(|(_, p)| p.display().to_string()).unwrap_or_default();
    println!(
        "\nwsgate is up: Envoy {url} → wsgate.wasm → echo upstream 127.0.0.1:{upstream}
Google stand-in 127.0.0.1:{google_port}: keys fetched from /oauth2/v3/certs, {live_group} looked up live in
Cloud Identity with a metadata-server token (members: {live_members})
policy: {policy} (public /healthz; /hello for example.com and pat@partner.example; /eng for group eng@example.com
        from the policy's directory; /oncall for group {live_group}, looked up live)

  curl -i {url}/healthz                                             # public: 200
  curl -i {url}/hello                                               # no token: 401
  curl -i -H \"Authorization: Bearer $(cat {alice})\" {url}/hello   # alice@example.com: 200, see x-workspace-* in the echo
  curl -i -H \"Authorization: Bearer $(cat {alice})\" {url}/eng     # 200: alice is in eng@ through backend@ (nested)
  curl -i -H \"Authorization: Bearer $(cat {bob})\" {url}/hello     # bob@partner.example: 403 not_allowed
  curl -i -H \"Authorization: Bearer $(cat {alice})\" {url}/oncall  # 200: Cloud Identity says alice is in {live_group}
  curl -i -H \"Authorization: Bearer $(cat {bob})\" {url}/oncall    # 403: bob is not
  curl -i -H 'x-workspace-email: ceo@example.com' {url}/healthz     # spoofed identity header: stripped
  (every response carries x-wsgate-decision: the demo policy turns explain_header on)

mint a token for anyone (1 hour, signed by the demo key), groups as a token claim:
  {cli} mint --key {key} --email carol@example.com --claim 'groups=[\"eng@example.com\"]'
explain a decision without a request:
  {cli} explain {policy} --email alice@example.com --path /eng

decision log: {log} (one JSON line per request)
stats:        curl -s http://127.0.0.1:{admin}/stats?filter=wsgate   (jwks.*, groups.*, reason.*)

Ctrl-C stops Envoy and the upstream.",
        upstream = stack.upstream.port,
        policy = args.policy.display(),
        alice = token("alice"),
        bob = token("bob"),
        cli = args.cli.display(),
        key = key_path.display(),
        log = stack.envoy.log_path().display(),
        admin = stack.envoy.ports.admin,
        live_group = LIVE_GROUP,
        live_members = LIVE_GROUP_MEMBERS.join(", "),
    );
}

fn wait_for_ctrl_c(stack: &mut Stack) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;
    while !stop.load(Ordering::SeqCst) {
        if !stack.envoy.is_running() {
            return Err(format!("envoy stopped unexpectedly; see {}", stack.envoy.log_path().display()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("\nrun: stopping Envoy and the upstream");
    stack.envoy.stop();
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}
