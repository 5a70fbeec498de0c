//! `make bench-verify`: the filter's verifier per verify, RS256 and ES256, as
//! wasm32-wasip1 under node's V8 (TurboFan only, as in Envoy) and natively, in
//! alternating rounds (wasm, native, wasm, native …), with jwt-simple's
//! `verify_token` on the same tokens as a reference row. Mints the keys and tokens,
//! runs `wsgate-bench-verify` both ways, prints medians and wasm/native ratios and
//! writes `target/bench/verify.json`. Speed is measured here, never asserted.

use clap::Parser;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::claims::{GOOGLE_ISSUER, IAP_ISSUER};
use wsgate_fixtures::configs::{AUDIENCE, IAP_AUDIENCE};

#[derive(Parser)]
struct Args {
    /// wsgate-bench-verify built for wasm32-wasip1.
    #[arg(long)]
    wasm: PathBuf,
    /// wsgate-bench-verify built natively (release).
    #[arg(long)]
    native: PathBuf,
    #[arg(long, default_value = "plugin/bench-verify/run-wasm.mjs")]
    runner: PathBuf,
    #[arg(long, default_value = "node")]
    node: String,
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Distinct tokens per algorithm: each verify in a batch is of another token.
    #[arg(long, default_value_t = 200)]
    tokens: usize,
    /// Timed passes over the tokens per run; a run reports their median.
    #[arg(long, default_value_t = 5)]
    batches: usize,
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
}

const NOW: u64 = 1_900_000_000;

/// Per (verifier, alg), in the order the bench prints them: the run medians, µs per
/// verify, one per round.
#[derive(Default)]
struct Rounds(Vec<((String, String), Vec<f64>)>);

impl Rounds {
    fn add(&mut self, key: (String, String), median: f64) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, medians)) => medians.push(median),
            None => self.0.push((key, vec![median])),
        }
    }

    fn get(&self, verifier: &str, alg: &str) -> &[f64] {
        self.0.iter().find(|((v, a), _)| v == verifier && a == alg).map_or(&[], |(_, medians)| medians)
    }
}

fn main() {
    if let Err(message) = run(&Args::parse()) {
        eprintln!("wsgate-bench-verify-driver: {message}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.out).map_err(|e| e.to_string())?;
    let input = args.out.join("verify-input.json");
    std::fs::write(&input, generate(args.tokens, args.batches)?.to_string()).map_err(|e| format!("{}: {e}", input.display()))?;
    println!("bench-verify: {} tokens per algorithm, {} batches per run, {} rounds (wasm under `{} --no-liftoff`, then native)", args.tokens, args.batches, args.rounds, args.node);
    let (mut wasm, mut native) = (Rounds::default(), Rounds::default());
    for round in 1..=args.rounds {
        let w = collect(&mut wasm, Command::new(&args.node).arg("--no-liftoff").arg("--no-warnings").arg(&args.runner).arg(&args.wasm).arg(&input))?;
        let n = collect(&mut native, Command::new(&args.native).arg(&input))?;
        println!("round {round}  wasm  {w}\n         native{n}");
    }
    let mut result = summary(args, &wasm, &native);
    result["node_version"] = json!(node_version(&args.node));
    let path = args.out.join("verify.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap_or_default()).map_err(|e| e.to_string())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Keys and tokens: Google-style RS256 ID tokens and IAP-style ES256 assertions,
/// every one for another user so each verify is of a distinct token.
fn generate(tokens: usize, batches: usize) -> Result<Value, String> {
    let rsa = SigningKey::generate_rs256("bench-rsa")?;
    let ec = SigningKey::generate_es256("bench-ec");
    let email = |user: usize| format!("user{user}@example.com");
    let rs256: Vec<String> = (0..tokens).map(|u| rsa.sign(&GoogleClaims::id_token(&email(u), AUDIENCE, NOW).issued_ago(60).build())).collect::<Result<_, _>>()?;
    let es256: Vec<String> = (0..tokens).map(|u| ec.sign(&GoogleClaims::iap_assertion(&email(u), IAP_AUDIENCE, NOW).issued_ago(60).build())).collect::<Result<_, _>>()?;
    Ok(json!({"now": NOW, "batches": batches, "suites": [
        {"alg": "RS256", "issuer": GOOGLE_ISSUER, "audience": AUDIENCE, "jwks": jwks(&[&rsa]), "tokens": rs256},
        {"alg": "ES256", "issuer": IAP_ISSUER, "audience": IAP_AUDIENCE, "jwks": jwks(&[&ec]), "tokens": es256},
    ]}))
}

/// Runs one bench process, adds its medians to `rounds`, and returns them as a line.
fn collect(rounds: &mut Rounds, command: &mut Command) -> Result<String, String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{command:?} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr)));
    }
    let mut line = String::new();
    for row in String::from_utf8_lossy(&output.stdout).lines().filter(|l| l.starts_with('{')) {
        let row: Value = serde_json::from_str(row).map_err(|e| format!("{command:?} printed {row}: {e}"))?;
        let (verifier, alg) = (text(&row["verifier"]), text(&row["alg"]));
        let median = row["median_us"].as_f64().ok_or(format!("{command:?}: no median_us in {row}"))?;
        line.push_str(&format!("  {verifier} {alg} {median:>7.1} us"));
        rounds.add((verifier, alg), median);
    }
    if line.is_empty() {
        return Err(format!("{command:?} printed no result"));
    }
    Ok(line)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn median(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Medians over rounds, wasm/native per row, and jwt-simple/wsgate per algorithm and
/// target: what the filter's own verifier buys over the library it replaced.
fn summary(args: &Args, wasm: &Rounds, native: &Rounds) -> Value {
    println!("\nmedian per verify ({} rounds):", args.rounds);
    let mut rows = Vec::new();
    for ((verifier, alg), wasm_rounds) in &wasm.0 {
        let native_rounds = native.get(verifier, alg);
        let (w, n) = (median(wasm_rounds), median(native_rounds));
        println!("  {verifier:<10} {alg}  wasm {w:>7.1} us   native {n:>7.1} us   wasm/native {:>5.2}", w / n);
        rows.push(json!({"verifier": verifier, "alg": alg, "wasm_us": w, "native_us": n, "wasm_over_native": w / n,
                         "wasm_rounds_us": wasm_rounds, "native_rounds_us": native_rounds}));
    }
    let speedup = |rounds: &Rounds, alg: &str| median(rounds.get("jwt-simple", alg)) / median(rounds.get("wsgate", alg));
    let mut speedups = serde_json::Map::new();
    for alg in ["RS256", "ES256"] {
        let (w, n) = (speedup(wasm, alg), speedup(native, alg));
        println!("  jwt-simple/wsgate {alg}: wasm {w:.2}, native {n:.2} (above 1: wsgate's verifier is faster)");
        speedups.insert(alg.to_owned(), json!({"wasm": w, "native": n}));
    }
    json!({"rounds": args.rounds, "tokens_per_alg": args.tokens, "batches_per_run": args.batches,
           "wasm_runner": format!("{} --no-liftoff {}", args.node, args.runner.display()), "wasm_module": path(&args.wasm),
           "native_binary": path(&args.native), "rows": rows, "jwt_simple_over_wsgate": speedups})
}

fn node_version(node: &str) -> String {
    let output = Command::new(node).arg("--version").output();
    output.map_or_else(|e| e.to_string(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn path(path: &Path) -> String {
    path.display().to_string()
}
