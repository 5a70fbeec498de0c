//! `make bench-harness`: a generated trace (100,000 requests from a few hundred users)
//! through the .wasm in wasmtime and through the core natively, alternating W N W N
//! on one core, with medians and the ratio. Speed is measured here, never asserted.

use clap::Parser;
use serde_json::json;
use std::time::Instant;
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_fixtures::configs::google_provider;
use wsgate_fixtures::{GoogleClaims, patched};
use wsgate_harness::Harness;
use wsgate_harness::replay::executor::{Executor, NativeExecutor, WasmExecutor};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    wasm: std::path::PathBuf,
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    #[arg(long, default_value_t = 300)]
    users: usize,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

const NOW: u64 = 1_900_000_000;
const AUDIENCE: &str = "wsgate-bench";

/// Request headers and the status the request must get.
type Request = (Vec<(String, String)>, u16);

fn main() -> Result<(), String> {
    let args = Args::parse();
    let key = SigningKey::generate_rs256("bench-1")?;
    let config = config(&key);
    let trace = trace(&key, args.users, args.requests)?;
    let harness = Harness::load(&args.wasm).map_err(|e| format!("{e:#}"))?;
    let mut wasm = WasmExecutor::new(&harness, &config, NOW)?;
    let mut native = NativeExecutor::new(&config)?;
    println!("bench-harness: {} requests per round, {} users, {} rounds, one thread", args.requests, args.users, args.rounds);
    let (mut wasm_rates, mut native_rates) = (Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        let w = run(&mut wasm, &trace)?;
        let n = run(&mut native, &trace)?;
        println!("round {round}: wasm {w:>10.0} req/s   native {n:>10.0} req/s   wasm/native {:.2}", w / n);
        wasm_rates.push(w);
        native_rates.push(n);
    }
    let (w, n) = (median(&mut wasm_rates), median(&mut native_rates));
    println!("median: wasm {w:.0} req/s, native {n:.0} req/s, wasm/native {:.2}", w / n);
    Ok(())
}

/// Requests per second over the whole trace; every decision is checked against the
/// status the trace expects, so a broken plugin cannot look fast.
fn run(executor: &mut dyn Executor, trace: &[Request]) -> Result<f64, String> {
    let start = Instant::now();
    for (headers, expected) in trace {
        let outcome = executor.send(headers, (200, &[]), NOW)?;
        if outcome.status != *expected {
            return Err(format!("expected {expected}, got {} for {headers:?}", outcome.status));
        }
    }
    Ok(trace.len() as f64 / start.elapsed().as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn config(key: &SigningKey) -> Vec<u8> {
    json!({
        "providers": [patched(google_provider(AUDIENCE, &jwks(&[key])), &json!({"allowed_domains": ["example.com"]}))],
        "policy": {
            "rules": [
                {"name": "health", "match": {"paths": [{"prefix": "/healthz"}]}, "effect": "allow", "subjects": {"anonymous": true}},
                {"name": "staff", "match": {"paths": [{"prefix": "/app"}]}, "effect": "allow", "subjects": {"domains": ["example.com"]}},
                {"name": "eng", "match": {"paths": [{"prefix": "/eng"}]}, "effect": "allow", "subjects": {"groups": ["eng@example.com"]}},
                {"name": "contractors-out", "effect": "deny", "subjects": {"groups": ["contractors@example.com"]}}
            ]
        }
    })
    .to_string()
    .into_bytes()
}

/// Users cycle through /app, /eng and /healthz; every 10th is a contractor (which
/// wins over being every 3rd, an engineer). The expected status comes from that.
fn trace(key: &SigningKey, users: usize, requests: usize) -> Result<Vec<Request>, String> {
    let tokens: Vec<String> = (0..users)
        .map(|u| {
            let groups = match (u % 10, u % 3) {
                (0, _) => vec!["contractors@example.com"],
                (_, 0) => vec!["eng@example.com"],
                _ => vec![],
            };
            key.sign(&GoogleClaims::id_token(&format!("user{u}@example.com"), AUDIENCE, NOW).issued_ago(60).groups(&groups).build())
        })
        .collect::<Result<_, _>>()?;
    Ok((0..requests)
        .map(|i| {
            let u = (i * 7) % users;
            let path = ["/app/items", "/eng/builds", "/healthz"][i % 3];
            // Deny wins for callers it can identify: contractors are refused on
            // /healthz too, since they send a token.
            let expected = match (path, u.is_multiple_of(10), u.is_multiple_of(3)) {
                (_, true, _) => 403,
                ("/healthz", _, _) => 200,
                ("/eng/builds", _, false) => 403,
                _ => 200,
            };
            let headers = vec![
                (":method".to_owned(), "GET".to_owned()),
                (":authority".to_owned(), "app.example.com".to_owned()),
                (":path".to_owned(), path.to_owned()),
                ("authorization".to_owned(), format!("Bearer {}", tokens[u])),
                ("x-request-id".to_owned(), format!("r{i}")),
            ];
            (headers, expected)
        })
        .collect())
}
