//! `make bench`: three Envoys (no auth; native jwt_authn + rbac; wsgate) serving the
//! same direct response under the same policy and the same RS256 tokens, loaded by
//! wrk in alternating rounds (1 2 3 1 2 3 …). Prints medians and ratios and writes
//! `target/bench/result.json`. Never part of `make test`.

use clap::Parser;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_host_tests::bench::{configs, wrk};
use wsgate_host_tests::envoy::{Envoy, Ports};
use wsgate_host_tests::http;
use wsgate_host_tests::memory;
use wsgate_host_tests::ports::free_port;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    envoy: PathBuf,
    #[arg(long)]
    wasm: PathBuf,
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long, default_value_t = 300)]
    users: usize,
    #[arg(long, default_value_t = 32)]
    connections: u32,
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
}

struct Contender {
    name: &'static str,
    envoy: Envoy,
    cold_start: Duration,
    runs: Vec<wrk::Run>,
}

fn main() {
    if let Err(message) = run(&Args::parse()) {
        eprintln!("wsgate-bench: {message}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.out).map_err(|e| e.to_string())?;
    let key = SigningKey::generate_rs256("bench-1")?;
    let keys = jwks(&[&key]);
    let tokens = tokens(&key, args.users)?;
    let script = args.out.join("tokens.lua");
    std::fs::write(&script, wrk::token_script(&tokens)).map_err(|e| e.to_string())?;
    let template = read("envoy/bench.yaml")?;
    let native = read("envoy/bench-native-filters.yaml")?;
    let probe = &tokens[1];

    println!("bench: {} users ({}% denied), {} s per run, {} connections, Envoy on CPU 0, wrk on CPU 1", args.users, 10, args.seconds, args.connections);
    let empty = empty_filter(&args.out)?;
    let mut warm = vec![
        start(args, &template, "no-auth", "", probe)?,
        start(args, &template, "native", &configs::native_filters(&native, &keys, 1000), probe)?,
        start(args, &template, "wsgate", &configs::wsgate_filter(&args.wasm, &keys, 4096, "all"), probe)?,
        start(args, &template, "wsgate, log denied", &configs::wsgate_filter(&args.wasm, &keys, 4096, "denied"), probe)?,
        start(args, &template, "empty wasm filter", &configs::wasm_filter(&empty, &json!({})), probe)?,
    ];
    let memory_after_1k = memory_after(&warm[2], 1_000, &tokens)?;
    measure(args, &mut warm, &script)?;
    let memory_after_run = memory::vm_memory(&warm[2].envoy);
    let requests_sent: f64 = warm[2].runs.iter().map(|r| r.requests_per_second * f64::from(args.seconds)).sum();

    println!("\ncache-miss mode: every request verifies a signature (native JWT cache off, wsgate token cache off)");
    let mut cold = vec![
        start(args, &template, "native, no cache", &configs::native_filters(&native, &keys, 0), probe)?,
        start(args, &template, "wsgate, no cache", &configs::wsgate_filter(&args.wasm, &keys, 0, "all"), probe)?,
    ];
    measure(args, &mut cold, &script)?;

    let wasm_size = std::fs::metadata(&args.wasm).map(|m| m.len()).unwrap_or(0);
    let result = report(&warm, &cold, wasm_size, (memory_after_1k, memory_after_run, requests_sent));
    let path = args.out.join("result.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap_or_default()).map_err(|e| e.to_string())?;
    println!("\nwrote {}", path.display());
    Ok(())
}

/// Alternating rounds: every contender once per round, in the same order.
fn measure(args: &Args, contenders: &mut [Contender], script: &Path) -> Result<(), String> {
    for contender in contenders.iter() {
        wrk::run(&url(contender), script, 1, args.connections)?; // warm-up
    }
    for round in 1..=args.rounds {
        for contender in contenders.iter_mut() {
            let run = wrk::run(&url(contender), script, args.seconds, args.connections)?;
            println!("round {round}  {:<18} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  non-2xx {}", contender.name, run.requests_per_second, run.p50_micros, run.p99_micros, run.non_2xx);
            contender.runs.push(run);
        }
    }
    Ok(())
}

fn start(args: &Args, template: &str, name: &'static str, filters: &str, probe: &str) -> Result<Contender, String> {
    let ports = Ports { listen: free_port().map_err(|e| e.to_string())?, admin: free_port().map_err(|e| e.to_string())?, upstream: 0 };
    let dir = args.out.join(name.replace([' ', ','], ""));
    let started = Instant::now();
    let mut envoy = Envoy::start_on(&args.envoy, &configs::render(template, ports.listen, ports.admin, filters), &dir, ports, Some(0), 1)?;
    envoy.wait_ready(Duration::from_secs(30))?;
    // Cold start: from starting Envoy to the first request it serves with a valid token.
    let auth = format!("Bearer {probe}");
    while http::get(ports.listen, "/", &[("authorization", &auth)]).map(|r| r.status).unwrap_or(0) != 200 {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("{name}: no 200 within 30 s; see {}", envoy.log_path().display()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let cold_start = started.elapsed();
    println!("started {name:<18} cold start {:>5} ms", cold_start.as_millis());
    Ok(Contender { name, envoy, cold_start, runs: Vec::new() })
}

/// The floor for any Wasm filter: `envoy/bench-empty-filter.wat`, compiled.
fn empty_filter(out: &Path) -> Result<PathBuf, String> {
    let wasm = wat::parse_str(read("envoy/bench-empty-filter.wat")?).map_err(|e| e.to_string())?;
    let path = std::path::absolute(out.join("empty-filter.wasm")).map_err(|e| e.to_string())?;
    std::fs::write(&path, wasm).map_err(|e| e.to_string())?;
    Ok(path)
}

fn url(contender: &Contender) -> String {
    format!("http://127.0.0.1:{}/", contender.envoy.ports.listen)
}

/// Sends `count` requests, then reads the plugin VM's memory.
fn memory_after(contender: &Contender, count: usize, tokens: &[String]) -> Result<u64, String> {
    for i in 0..count {
        let auth = format!("Bearer {}", tokens[i % tokens.len()]);
        http::get(contender.envoy.ports.listen, "/", &[("authorization", &auth)]).map_err(|e| e.to_string())?;
    }
    Ok(memory::vm_memory(&contender.envoy))
}

/// 90% of users are engineers at example.com (allowed); 10% are in sales (denied).
fn tokens(key: &SigningKey, users: usize) -> Result<Vec<String>, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (0..users)
        .map(|u| {
            let group = if u % 10 == 0 { "sales@example.com" } else { "eng@example.com" };
            key.sign(&json!({"iss": "https://accounts.google.com", "aud": "wsgate-bench", "sub": format!("u{u}"), "email": format!("user{u}@example.com"),
                "email_verified": true, "hd": "example.com", "groups": [group], "iat": now - 10, "exp": now + 3000}))
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn summary(contender: &Contender) -> Value {
    let pick = |f: fn(&wrk::Run) -> f64| median(contender.runs.iter().map(f).collect());
    json!({
        "name": contender.name,
        "requests_per_second": pick(|r| r.requests_per_second),
        "p50_micros": pick(|r| r.p50_micros),
        "p99_micros": pick(|r| r.p99_micros),
        "cold_start_ms": contender.cold_start.as_millis() as u64,
        "runs": contender.runs.iter().map(|r| json!({"rps": r.requests_per_second, "p50_us": r.p50_micros, "p99_us": r.p99_micros, "non_2xx": r.non_2xx})).collect::<Vec<_>>(),
    })
}

fn report(warm: &[Contender], cold: &[Contender], wasm_size: u64, memory: (u64, u64, f64)) -> Value {
    let warm: Vec<Value> = warm.iter().map(summary).collect();
    let cold: Vec<Value> = cold.iter().map(summary).collect();
    let rps = |v: &Value| v["requests_per_second"].as_f64().unwrap_or(0.0);
    let p99 = |v: &Value| v["p99_micros"].as_f64().unwrap_or(0.0);
    println!("\nmedians (warm tokens):");
    for v in &warm {
        println!("  {:<18} {:>9.0} req/s  p50 {:>6.0} us  p99 {:>6.0} us  cold start {} ms", v["name"].as_str().unwrap_or(""), rps(v), v["p50_micros"].as_f64().unwrap_or(0.0), p99(v), v["cold_start_ms"]);
    }
    let (none, native, wsgate, log_denied, empty) = (&warm[0], &warm[1], &warm[2], &warm[3], &warm[4]);
    let ratios = json!({
        "wsgate_over_native_rps": rps(wsgate) / rps(native),
        "wsgate_over_no_auth_rps": rps(wsgate) / rps(none),
        "wsgate_log_denied_over_native_rps": rps(log_denied) / rps(native),
        "wsgate_log_denied_over_no_auth_rps": rps(log_denied) / rps(none),
        "empty_wasm_over_no_auth_rps": rps(empty) / rps(none),
        "wsgate_over_empty_wasm_rps": rps(wsgate) / rps(empty),
        "native_over_no_auth_rps": rps(native) / rps(none),
        "wsgate_over_native_p99": p99(wsgate) / p99(native),
        "wsgate_log_denied_over_native_p99": p99(log_denied) / p99(native),
        "cache_miss_wsgate_over_native_rps": rps(&cold[1]) / rps(&cold[0]),
    });
    println!("ratios: {ratios}");
    for v in &cold {
        println!("  cache-miss {:<18} {:>9.0} req/s  p99 {:>6.0} us", v["name"].as_str().unwrap_or(""), rps(v), p99(v));
    }
    println!("wsgate.wasm: {wasm_size} bytes; VM memory after 1,000 requests {} bytes, after ~{:.0} more {} bytes", memory.0, memory.2, memory.1);
    json!({"warm": warm, "cache_miss": cold, "ratios": ratios, "wasm_bytes": wasm_size,
           "vm_memory_bytes": {"after_1000": memory.0, "after_run": memory.1, "requests_in_run": memory.2}})
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}
