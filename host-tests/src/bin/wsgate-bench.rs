//! `make bench`: Envoys with no auth, native jwt_authn + rbac, wsgate (two decision logs), an empty and a floor Wasm filter, loaded by wrk in alternating rounds; prints and writes `target/bench/result.json`.

use clap::Parser;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wsgate_core::Settings;
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_core::session::Session;
use wsgate_fixtures::GoogleClaims;
use wsgate_host_tests::bench::coldstart::{self, Split};
use wsgate_host_tests::bench::vm_memory::{self, Point};
use wsgate_host_tests::bench::{configs, wrk};
use wsgate_host_tests::envoy::{Envoy, Launch, Ports};
use wsgate_host_tests::http;
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
    /// Keep-alive connections sending the requests before the VM memory readings.
    #[arg(long, default_value_t = 8)]
    memory_connections: usize,
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Another build of wsgate.wasm (e.g. before a change) to run beside `--wasm` in
    /// the same alternating rounds, as contender `wsgate_compare`.
    #[arg(long)]
    compare_wasm: Option<PathBuf>,
}

/// One Envoy to start: its key in result.json, its printed name, its auth filters, and
/// whether they are a Wasm filter (then Envoy starts at `wasm:trace` for the split).
struct Setup {
    key: &'static str,
    name: &'static str,
    filters: String,
    wasm: bool,
    /// Writes a file access log with wsgate's decision line.
    access_log: bool,
    /// The wrk script of this contender's requests, if not the bearer tokens'.
    script: Option<PathBuf>,
    /// Envoy's environment (the sign-in's secrets).
    environment: Vec<(String, String)>,
}

struct Contender {
    key: &'static str,
    name: &'static str,
    envoy: Envoy,
    cold_start: Duration,
    split: Option<Split>,
    runs: Vec<wrk::Run>,
    script: Option<PathBuf>,
}

/// wsgate's VM memory at the three points the bench reads it.
struct Memory {
    after_1000: Point,
    after_100000: Point,
    end: Point,
    /// The old estimate of the requests wrk sent wsgate in the rounds (req/s × s).
    requests_in_run: f64,
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
    let empty = wat_module(&args.out, "envoy/bench-empty-filter.wat", "empty-filter.wasm")?;
    let floor = wat_module(&args.out, "envoy/bench-floor-filter.wat", "floor-filter.wasm")?;
    // The other build, if any, runs beside this one in both modes.
    let compare = args.compare_wasm.as_deref().map(std::path::absolute).transpose().map_err(|e| e.to_string())?;
    let mut warm_setups = vec![
        Setup { key: "no_auth", name: "no-auth", filters: String::new(), wasm: false, access_log: false, script: None, environment: Vec::new() },
        Setup { key: "native", name: "native", filters: configs::native_filters(&native, &keys, 1000), wasm: false, access_log: false, script: None, environment: Vec::new() },
        Setup { key: "wsgate", name: "wsgate", filters: configs::wsgate_filter(&args.wasm, &keys, 4096, "all"), wasm: true, access_log: false, script: None, environment: Vec::new() },
        Setup { key: "wsgate_access_log", name: "wsgate, access log", filters: configs::wsgate_filter_logging_to(&args.wasm, &keys, 4096, "all", "access_log"), wasm: true, access_log: true, script: None, environment: Vec::new() },
        Setup { key: "wsgate_log_denied", name: "wsgate, log denied", filters: configs::wsgate_filter(&args.wasm, &keys, 4096, "denied"), wasm: true, access_log: false, script: None, environment: Vec::new() },
        Setup { key: "empty", name: "empty wasm filter", filters: configs::wasm_filter(&empty, &json!({})), wasm: true, access_log: false, script: None, environment: Vec::new() },
        Setup { key: "floor", name: "floor wasm filter", filters: configs::wasm_filter(&floor, &json!({})), wasm: true, access_log: false, script: None, environment: Vec::new() },
    ];
    if let Some(other) = &compare {
        let filters = configs::wsgate_filter(other, &keys, 4096, "all");
        warm_setups.insert(3, Setup { key: "wsgate_compare", name: "wsgate, --compare-wasm", filters, wasm: true, access_log: false, script: None, environment: Vec::new() });
    }
    let mut warm = start_all(args, &template, warm_setups, probe)?;
    let (after_1000, after_100000) = memory_before_run(args, by_key(&warm, "wsgate")?, &tokens)?;
    measure(args, &mut warm, &script)?;
    let wsgate = by_key(&warm, "wsgate")?;
    let requests_in_run = wsgate.runs.iter().map(|r| r.requests_per_second * f64::from(args.seconds)).sum();
    let memory = Memory { after_1000, after_100000, end: vm_memory::now(&wsgate.envoy), requests_in_run };

    println!("\ncache-miss mode: every request verifies a signature (native JWT cache off, wsgate token cache off)");
    let mut cold_setups = vec![
        Setup { key: "native_no_cache", name: "native, no cache", filters: configs::native_filters(&native, &keys, 0), wasm: false, access_log: false, script: None, environment: Vec::new() },
        Setup { key: "wsgate_no_cache", name: "wsgate, no cache", filters: configs::wsgate_filter(&args.wasm, &keys, 0, "all"), wasm: true, access_log: false, script: None, environment: Vec::new() },
    ];
    if let Some(other) = &compare {
        let filters = configs::wsgate_filter(other, &keys, 0, "all");
        cold_setups.push(Setup { key: "wsgate_compare_no_cache", name: "wsgate, --compare-wasm, no cache", filters, wasm: true, access_log: false, script: None, environment: Vec::new() });
    }
    let mut cold = start_all(args, &template, cold_setups, probe)?;
    measure(args, &mut cold, &script)?;

    println!("\nsign-in mode: one gate with sign-in, warm bearer tokens against signed-in browsers' session cookies");
    let sessions = args.out.join("sessions.lua");
    std::fs::write(&sessions, wrk::header_script("cookie", "wsgate-session-0=", &session_cookies(&keys, args.users)?)).map_err(|e| e.to_string())?;
    let environment: Vec<(String, String)> = configs::SIGN_IN_ENVIRONMENT.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    let sign_in_filters = configs::wsgate_sign_in_filter(&args.wasm, &keys);
    let session_setups = vec![
        Setup { key: "sign_in_bearer", name: "sign-in, bearer", filters: sign_in_filters.clone(), wasm: true, access_log: false, script: None, environment: environment.clone() },
        Setup { key: "sign_in_session", name: "sign-in, session", filters: sign_in_filters, wasm: true, access_log: false, script: Some(sessions), environment },
    ];
    let mut sessions = start_all(args, &template, session_setups, probe)?;
    measure(args, &mut sessions, &script)?;

    let wasm_size = std::fs::metadata(&args.wasm).map(|m| m.len()).unwrap_or(0);
    let result = report(&[&warm, &cold, &sessions], wasm_size, &memory);
    let path = args.out.join("result.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap_or_default()).map_err(|e| e.to_string())?;
    println!("\nwrote {}", path.display());
    Ok(())
}

fn start_all(args: &Args, template: &str, setups: Vec<Setup>, probe: &str) -> Result<Vec<Contender>, String> {
    setups.into_iter().map(|setup| start(args, template, setup, probe)).collect()
}

fn by_key<'a>(contenders: &'a [Contender], key: &str) -> Result<&'a Contender, String> {
    contenders.iter().find(|c| c.key == key).ok_or_else(|| format!("no contender {key}"))
}

/// wsgate's VM memory after 1,000 and after 100,000 requests, before the rounds (they
/// send more than 100,000 in the default run), so wsgate is warmer than the others
/// going in; each contender gets its own wrk warm-up anyway.
fn memory_before_run(args: &Args, wsgate: &Contender, tokens: &[String]) -> Result<(Point, Point), String> {
    let after_1000 = vm_memory::after(&wsgate.envoy, tokens, 1_000, args.memory_connections)?;
    print_point("VM memory after 1,000 requests", &after_1000);
    let after_100000 = vm_memory::after(&wsgate.envoy, tokens, 100_000, args.memory_connections)?;
    print_point("VM memory after 100,000 requests", &after_100000);
    Ok((after_1000, after_100000))
}

fn print_point(label: &str, point: &Point) {
    println!(
        "{label}: {} bytes (gauge set on request {}; Envoy had received {}, {} sent for this reading in {:.1} s)",
        point.bytes, point.sampled_at, point.served, point.sent, point.seconds
    );
}

/// Alternating rounds: every contender once per round, in the same order.
fn measure(args: &Args, contenders: &mut [Contender], script: &Path) -> Result<(), String> {
    for contender in contenders.iter() {
        wrk::run(&url(contender), contender.script.as_deref().unwrap_or(script), 1, args.connections)?; // warm-up
    }
    for round in 1..=args.rounds {
        for contender in contenders.iter_mut() {
            let run = wrk::run(&url(contender), contender.script.as_deref().unwrap_or(script), args.seconds, args.connections)?;
            println!("round {round}  {:<18} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  non-2xx {}", contender.name, run.requests_per_second, run.p50_micros, run.p99_micros, run.non_2xx);
            contender.runs.push(run);
        }
    }
    Ok(())
}

fn start(args: &Args, template: &str, setup: Setup, probe: &str) -> Result<Contender, String> {
    let ports = Ports { listen: free_port().map_err(|e| e.to_string())?, admin: free_port().map_err(|e| e.to_string())?, upstream: 0 };
    let dir = args.out.join(setup.name.replace([' ', ','], ""));
    let access_log = setup.access_log.then(|| std::path::absolute(dir.join("access.log"))).transpose().map_err(|e| e.to_string())?;
    let config = configs::render(template, ports.listen, ports.admin, &setup.filters, access_log.as_deref());
    let launch = Launch { cpu: Some(0), workers: 1, component_log_level: setup.wasm.then(|| "wasm:trace".to_owned()), environment: setup.environment.clone() };
    let started = Instant::now();
    let mut envoy = Envoy::start_with(&args.envoy, &config, &dir, ports, &launch)?;
    let cold_start = first_served(&mut envoy, setup.name, probe, started)?;
    let split = if setup.wasm { Some(traced_split(&envoy)?) } else { None };
    let detail = split.map(|s| format!("  (log: envoy {}, compile {}, vm_start {}, configure {}, first request {} ms)", s.envoy, s.compile, s.vm_start, s.configure, s.first_request));
    println!("started {:<18} cold start {:>5} ms{}", setup.name, cold_start.as_millis(), detail.unwrap_or_default());
    Ok(Contender { key: setup.key, name: setup.name, envoy, cold_start, split, runs: Vec::new(), script: setup.script })
}

/// Cold start: from starting Envoy to the first request it serves with a valid token.
/// The listener itself is polled every 2 ms (it refuses connections until the workers
/// run), so the first request in the split waits on Envoy rather than on the poll.
fn first_served(envoy: &mut Envoy, name: &str, probe: &str, started: Instant) -> Result<Duration, String> {
    let auth = format!("Bearer {probe}");
    loop {
        if http::get(envoy.ports.listen, "/", &[("authorization", &auth)]).is_ok_and(|r| r.status == 200) {
            return Ok(started.elapsed());
        }
        if !envoy.is_running() {
            return Err(format!("{name}: Envoy exited before serving; see {}", envoy.log_path().display()));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("{name}: no 200 within 30 s; see {}", envoy.log_path().display()));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The cold-start split from the trace log (Envoy may not have written the last lines
/// yet), then the wasm logger back to `info`: tracing every call into the VM would
/// slow the measured runs, which must log what the other contenders log.
fn traced_split(envoy: &Envoy) -> Result<Split, String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let split = loop {
        match coldstart::parse(&envoy.log()) {
            Ok(split) => break split,
            Err(e) if Instant::now() > deadline => return Err(format!("{}: {e}", envoy.log_path().display())),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    envoy.set_log_level("wasm", "info")?;
    Ok(split)
}

/// A filter written in WAT (`envoy/bench-*-filter.wat`), compiled into `out`.
fn wat_module(out: &Path, source: &str, file_name: &str) -> Result<PathBuf, String> {
    let wasm = wat::parse_str(read(source)?).map_err(|e| format!("{source}: {e}"))?;
    let path = std::path::absolute(out.join(file_name)).map_err(|e| e.to_string())?;
    std::fs::write(&path, wasm).map_err(|e| e.to_string())?;
    Ok(path)
}

fn url(contender: &Contender) -> String {
    format!("http://127.0.0.1:{}/", contender.envoy.ports.listen)
}

/// 90% of users are engineers at example.com (allowed); 10% are in sales (denied).
fn tokens(key: &SigningKey, users: usize) -> Result<Vec<String>, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (0..users)
        .map(|u| {
            let group = if u % 10 == 0 { "sales@example.com" } else { "eng@example.com" };
            key.sign(&GoogleClaims::id_token(&format!("user{u}@example.com"), configs::AUDIENCE, now).issued_ago(10).groups(&[group]).build())
        })
        .collect()
}

/// One signed-in browser's session cookie per user (all at example.com), sealed
/// for the bench's sign-in settings as the gate seals them at sign-in.
fn session_cookies(jwks: &Value, users: usize) -> Result<Vec<String>, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let env = |name: &str| configs::SIGN_IN_ENVIRONMENT.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned());
    let settings = Settings::from_json_with_env(configs::sign_in_config(jwks).to_string().as_bytes(), &env).map_err(|e| e.to_string())?;
    let sign_in = settings.sign_in.ok_or("the bench's settings have no sign_in")?;
    (0..users)
        .map(|u| {
            let session = Session { subject: format!("sub-{u}"), email: Some(format!("user{u}@example.com")), domain: Some("example.com".into()), signed_in_at: now, seen_at: now };
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&(u as u64).to_le_bytes());
            sign_in.seal_session(&session, nonce).ok_or_else(|| "sealing failed".to_owned())
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
        "key": contender.key,
        "name": contender.name,
        "requests_per_second": pick(|r| r.requests_per_second),
        "p50_micros": pick(|r| r.p50_micros),
        "p99_micros": pick(|r| r.p99_micros),
        "cold_start_ms": contender.cold_start.as_millis() as u64,
        "cold_start_split_ms": contender.split.map(Split::to_json),
        "runs": contender.runs.iter().map(|r| json!({"rps": r.requests_per_second, "p50_us": r.p50_micros, "p99_us": r.p99_micros, "non_2xx": r.non_2xx})).collect::<Vec<_>>(),
    })
}

/// A contender's summary by key (`null` if there is none, so its ratios are `null`).
fn summary_of<'a>(summaries: &'a [Value], key: &str) -> &'a Value {
    summaries.iter().find(|v| v["key"] == key).unwrap_or(&Value::Null)
}

fn ratios(warm: &[Value], cold: &[Value], sign_in: &[Value]) -> Value {
    let rps = |values: &[Value], key: &str| summary_of(values, key)["requests_per_second"].as_f64().unwrap_or(0.0);
    let p99 = |key: &str| summary_of(warm, key)["p99_micros"].as_f64().unwrap_or(0.0);
    let warm_rps = |key: &str| rps(warm, key);
    json!({
        "wsgate_over_native_rps": warm_rps("wsgate") / warm_rps("native"),
        "wsgate_over_no_auth_rps": warm_rps("wsgate") / warm_rps("no_auth"),
        "wsgate_denied_over_native_rps": warm_rps("wsgate_log_denied") / warm_rps("native"),
        "wsgate_log_denied_over_native_rps": warm_rps("wsgate_log_denied") / warm_rps("native"),
        "wsgate_log_denied_over_no_auth_rps": warm_rps("wsgate_log_denied") / warm_rps("no_auth"),
        "empty_wasm_over_no_auth_rps": warm_rps("empty") / warm_rps("no_auth"),
        "floor_wasm_over_no_auth_rps": warm_rps("floor") / warm_rps("no_auth"),
        "floor_wasm_over_empty_wasm_rps": warm_rps("floor") / warm_rps("empty"),
        "wsgate_over_empty_wasm_rps": warm_rps("wsgate") / warm_rps("empty"),
        "wsgate_over_floor_wasm_rps": warm_rps("wsgate") / warm_rps("floor"),
        "native_over_no_auth_rps": warm_rps("native") / warm_rps("no_auth"),
        "wsgate_access_log_over_native_rps": warm_rps("wsgate_access_log") / warm_rps("native"),
        "wsgate_access_log_over_native_p99": p99("wsgate_access_log") / p99("native"),
        "wsgate_over_native_p99": p99("wsgate") / p99("native"),
        "wsgate_over_compare_wasm_rps": warm_rps("wsgate") / warm_rps("wsgate_compare"),
        "wsgate_log_denied_over_native_p99": p99("wsgate_log_denied") / p99("native"),
        "cache_miss_wsgate_over_native_rps": rps(cold, "wsgate_no_cache") / rps(cold, "native_no_cache"),
        "cache_miss_wsgate_over_compare_wasm_rps": rps(cold, "wsgate_no_cache") / rps(cold, "wsgate_compare_no_cache"),
        "session_over_bearer_rps": rps(sign_in, "sign_in_session") / rps(sign_in, "sign_in_bearer"),
        "session_over_bearer_p99": summary_of(sign_in, "sign_in_session")["p99_micros"].as_f64().unwrap_or(0.0) / summary_of(sign_in, "sign_in_bearer")["p99_micros"].as_f64().unwrap_or(0.0),
    })
}

fn cold_starts(contenders: &[&Contender]) -> (Value, Value) {
    let totals: Map<String, Value> = contenders.iter().map(|c| (c.key.to_owned(), json!(c.cold_start.as_millis() as u64))).collect();
    let splits: Map<String, Value> = contenders.iter().filter_map(|c| Some((c.key.to_owned(), c.split?.to_json()))).collect();
    (Value::Object(totals), Value::Object(splits))
}

fn print_cold_starts(contenders: &[&Contender]) {
    // The end-to-end figure also counts what comes before Envoy's first log line: the
    // process start (the PyPI wheel's `envoy` is a Python script that execs Envoy).
    println!("\ncold start, ms: Envoy start to the first 200 (end to end, including the process start before Envoy's first log line); then the split from Envoy's wasm:trace log");
    println!("  {:<18} {:>10} {:>7} {:>8} {:>9} {:>10} {:>14} {:>6}", "", "end-to-end", "envoy", "compile", "vm_start", "configure", "first_request", "total");
    for c in contenders {
        let split = c.split.map(|s| format!("{:>7} {:>8} {:>9} {:>10} {:>14} {:>6}", s.envoy, s.compile, s.vm_start, s.configure, s.first_request, s.total()));
        println!("  {:<18} {:>10} {}", c.name, c.cold_start.as_millis(), split.unwrap_or_default());
    }
}

fn memory_json(memory: &Memory) -> (Value, Value) {
    let bytes = json!({"after_1000": memory.after_1000.bytes, "after_100000": memory.after_100000.bytes, "end": memory.end.bytes,
                       "after_run": memory.end.bytes, "requests_in_run": memory.requests_in_run});
    let points = json!({"after_1000": memory.after_1000.to_json(), "after_100000": memory.after_100000.to_json(), "end": memory.end.to_json(),
                        "sample_every": vm_memory::SAMPLE_EVERY});
    (bytes, points)
}

/// `modes`: the warm, cache-miss and sign-in contenders.
fn report(modes: &[&[Contender]; 3], wasm_size: u64, memory: &Memory) -> Value {
    let [warm, cold, sign_in] = *modes;
    let warm_summaries: Vec<Value> = warm.iter().map(summary).collect();
    let cold_summaries: Vec<Value> = cold.iter().map(summary).collect();
    let sign_in_summaries: Vec<Value> = sign_in.iter().map(summary).collect();
    let rps = |v: &Value| v["requests_per_second"].as_f64().unwrap_or(0.0);
    let p99 = |v: &Value| v["p99_micros"].as_f64().unwrap_or(0.0);
    println!("\nmedians (warm tokens):");
    for v in &warm_summaries {
        println!("  {:<18} {:>9.0} req/s  p50 {:>6.0} us  p99 {:>6.0} us  cold start {} ms", v["name"].as_str().unwrap_or(""), rps(v), v["p50_micros"].as_f64().unwrap_or(0.0), p99(v), v["cold_start_ms"]);
    }
    for v in &cold_summaries {
        println!("  cache-miss {:<18} {:>9.0} req/s  p99 {:>6.0} us", v["name"].as_str().unwrap_or(""), rps(v), p99(v));
    }
    for v in &sign_in_summaries {
        println!("  {:<29} {:>9.0} req/s  p50 {:>6.0} us  p99 {:>6.0} us", v["name"].as_str().unwrap_or(""), rps(v), v["p50_micros"].as_f64().unwrap_or(0.0), p99(v));
    }
    let ratios = ratios(&warm_summaries, &cold_summaries, &sign_in_summaries);
    println!("ratios:");
    for (name, value) in ratios.as_object().into_iter().flatten() {
        println!("  {name:<36} {:.3}", value.as_f64().unwrap_or(f64::NAN));
    }
    let all: Vec<&Contender> = warm.iter().chain(cold).chain(sign_in).collect();
    print_cold_starts(&all);
    let (cold_start_ms, cold_start_split_ms) = cold_starts(&all);
    println!("\nwsgate.wasm: {wasm_size} bytes");
    print_point("VM memory after 1,000 requests", &memory.after_1000);
    print_point("VM memory after 100,000 requests", &memory.after_100000);
    print_point("VM memory at the end of the run", &memory.end);
    let (vm_memory_bytes, vm_memory_points) = memory_json(memory);
    json!({"warm": warm_summaries, "cache_miss": cold_summaries, "sign_in": sign_in_summaries, "ratios": ratios, "wasm_bytes": wasm_size,
           "cold_start_ms": cold_start_ms, "cold_start_split_ms": cold_start_split_ms,
           "vm_memory_bytes": vm_memory_bytes, "vm_memory_points": vm_memory_points})
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}
