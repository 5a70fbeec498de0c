//! `wsgate replay`: recorded traffic (case files, Envoy tap traces) through the real
//! .wasm in the wasmtime harness, or natively through the core (`--native`).

use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use wsgate_core::mint::SigningKey;
use wsgate_harness::Harness;
use wsgate_harness::replay::executor::{Executor, NativeExecutor, WasmExecutor};
use wsgate_harness::replay::{self, report};

#[derive(Args)]
pub struct ReplayArgs {
    /// The plugin to run (the same file Envoy loads).
    #[arg(long, required_unless_present = "native")]
    wasm: Option<PathBuf>,
    /// The plugin configuration (JSON), as in Envoy's `configuration`.
    #[arg(long)]
    config: PathBuf,
    /// Signing key for the tokens case files mint (`wsgate keygen`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Unix seconds for cases that name no time (tap traces); default: now.
    #[arg(long)]
    time: Option<u64>,
    /// Run the core crate natively instead of the .wasm.
    #[arg(long)]
    native: bool,
    /// Print a JSON report instead of text.
    #[arg(long)]
    json: bool,
    /// Case files, tap traces, or directories of them.
    #[arg(required = true)]
    traffic: Vec<PathBuf>,
}

pub fn replay(args: &ReplayArgs) -> Result<(), String> {
    let config = std::fs::read(&args.config).map_err(|e| format!("{}: {e}", args.config.display()))?;
    let cases = replay::load(&args.traffic)?;
    let key = match &args.key {
        Some(path) => Some(SigningKey::from_private_jwk(&std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?)?),
        None => None,
    };
    let now = args.time.unwrap_or_else(unix_now);
    let mut executor: Box<dyn Executor> = match (&args.wasm, args.native) {
        (_, true) => Box::new(NativeExecutor::new(&config)?),
        (Some(wasm), false) => {
            let harness = Harness::load(wasm).map_err(|e| format!("{}: {e:#}", wasm.display()))?;
            Box::new(WasmExecutor::new(&harness, &config, now)?)
        }
        (None, false) => return Err("--wasm is required without --native".to_owned()),
    };
    let show_progress = !args.json && cases.len() >= 1000 && std::io::stderr().is_terminal();
    let total = cases.len();
    let results = replay::run(executor.as_mut(), &cases, key.as_ref(), Some(now), |done| {
        if show_progress && done % 1000 == 0 {
            eprint!("\rreplaying {done}/{total}");
            let _ = std::io::stderr().flush();
        }
    });
    if show_progress {
        eprintln!("\rreplayed {total}/{total}   ");
    }
    print!("{}", if args.json { report::json(&results) + "\n" } else { report::text(&results) });
    let failed = results.len() - report::passed(&results);
    if failed == 0 { Ok(()) } else { Err(format!("{failed} case(s) failed")) }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
