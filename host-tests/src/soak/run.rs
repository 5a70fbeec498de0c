//! The soak run: start the Google stand-in (ID-token keys, metadata token, Cloud
//! Identity), the soak upstream and Envoy (demo template, demo settings, demo policy),
//! mint a token per user, then send the requests from keep-alive connections on worker
//! threads while this thread rotates the stand-in's signing key, retires the old one,
//! changes the live group, and reports.

use super::client::{KeepAlive, Reply};
use super::echo::{MARK, MARK_HEADER, SoakUpstream};
use super::plan::{self, Change, Changes, Membership, User};
use super::quantile;
use crate::envoy::{Envoy, Ports, http_cluster, render};
use crate::google::GoogleStandIn;
use crate::memory::{self, MemorySample};
use crate::ports::free_port;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The group `policies/demo.json` leaves to the live lookup.
pub const LIVE_GROUP: &str = crate::demo::LIVE_GROUP;

pub struct Options {
    pub envoy: PathBuf,
    pub wasm: PathBuf,
    /// `envoy/demo.yaml`.
    pub envoy_template: String,
    /// `envoy/demo-wsgate.template.json`; the group TTLs, the unknown-kid refresh
    /// interval and the decision log are overridden.
    pub plugin_config: Value,
    /// `policies/demo.json`.
    pub policy: Value,
    pub requests: u64,
    pub rotate_every: u64,
    pub report_every: u64,
    pub connections: usize,
    pub users: usize,
    pub max_seconds: u64,
    pub out: PathBuf,
    pub workers: u32,
    /// Pin Envoy to CPU 0 and this process (the load) to CPU 1.
    pub pin: bool,
    /// `Cache-Control: max-age` of the keys the stand-in publishes.
    pub keys_max_age: u64,
    pub group_ttl: u64,
    pub negative_ttl: u64,
    /// Users whose membership flips at each change, from each side.
    pub flip: usize,
    /// When the live group changes, as fractions of the requests.
    pub change_at: Vec<f64>,
    pub decision_log: String,
}

// What happened to one request.
const PENDING: u8 = 0;
const CORRECT: u8 = 1;
/// Expected admitted, refused by wsgate (401/403).
const VALID_REFUSED: u8 = 2;
/// Expected refused, answered by the upstream.
const REFUSED_ADMITTED: u8 = 3;
/// Answered by the upstream with another identity than the caller's.
const IDENTITY_MISMATCH: u8 = 4;
/// Expected refused, refused with another status than expected (or failed).
const OTHER_REFUSAL: u8 = 5;
const EXCLUDED_ADMITTED: u8 = 6;
const EXCLUDED_REFUSED: u8 = 7;
/// Expected admitted, neither admitted nor refused by wsgate (5xx, a transport error).
const VALID_FAILED: u8 = 8;
const OUTCOMES: usize = 9;

/// A rotation's new `kid` and tokens, minted in the background.
type Minted = Result<(String, Vec<String>), String>;
/// When a rotation began: requests done, seconds, the rotation's request boundary, the instant.
type RotationStart = (u64, f64, u64, Instant);

struct TokenSet {
    generation: u64,
    tokens: Vec<String>,
}

#[derive(Default)]
struct WrongLog {
    by_kind: BTreeMap<String, u64>,
    samples: Vec<Value>,
}

struct Shared {
    users: Vec<User>,
    total: u64,
    port: u16,
    started: Instant,
    deadline: Instant,
    next: AtomicU64,
    done: AtomicU64,
    stop: AtomicBool,
    tokens: RwLock<Arc<TokenSet>>,
    /// The token generation each worker used last (`u64::MAX`: finished).
    worker_generation: Vec<AtomicU64>,
    changes: RwLock<Changes>,
    latency_micros: Vec<AtomicU32>,
    outcome: Vec<AtomicU8>,
    slice_done: Vec<AtomicU64>,
    report_every: u64,
    wrong: Mutex<WrongLog>,
    transport_errors: AtomicU64,
}

/// Runs the soak and returns the result document (also written to `out/result.json`).
pub fn run(options: &Options) -> Result<Value, String> {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = options.pin && cpus >= 2 && pin_self_to_cpu(1);
    std::fs::create_dir_all(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    let users = plan::users(options.users);
    let flipping = plan::flipping(&users, options.flip);

    let google = GoogleStandIn::start()?;
    set_members(&google, &users, &BTreeMap::new());
    google.set_max_age(options.keys_max_age);
    let upstream = SoakUpstream::start().map_err(|e| format!("soak upstream: {e}"))?;

    let mut config = options.plugin_config.clone();
    config["policy"] = options.policy.clone();
    config["decision_log"] = json!(options.decision_log);
    for provider in config["providers"].as_array_mut().into_iter().flatten() {
        if provider.get("remote_jwks").is_some() {
            provider["remote_jwks"]["unknown_kid_refresh_seconds"] = json!(1);
        }
    }
    config["group_lookup"]["ttl_seconds"] = json!(options.group_ttl);
    config["group_lookup"]["negative_ttl_seconds"] = json!(options.negative_ttl);
    let audience = config["providers"][0]["audiences"][0].as_str().unwrap_or("wsgate-demo").to_owned();
    std::fs::write(options.out.join("wsgate-config.json"), serde_json::to_string_pretty(&config).unwrap_or_default()).map_err(|e| e.to_string())?;

    let port = |what: &str| free_port().map_err(|e| format!("no free port for {what}: {e}"));
    let ports = Ports { listen: port("Envoy")?, admin: port("Envoy's admin")?, upstream: upstream.port };
    let clusters = [http_cluster("googleapis", google.port), http_cluster("cloudidentity", google.port), http_cluster("metadata", google.port)].concat();
    let wasm = std::path::absolute(&options.wasm).map_err(|e| e.to_string())?;
    let envoy_config = render(&options.envoy_template, ports, &wasm, &config.to_string(), "").replace("{{EXTRA_CLUSTERS}}", &clusters);
    let mut envoy = Envoy::start_on(&options.envoy, &envoy_config, &options.out, ports, pinned.then_some(0), options.workers)?;
    envoy.wait_ready(Duration::from_secs(30))?;
    println!(
        "soak: Envoy 127.0.0.1:{} (admin {}, {} worker{}{}), keys, metadata token and groups from the Google stand-in on :{}, upstream :{}; log {}",
        ports.listen,
        ports.admin,
        options.workers,
        if options.workers == 1 { "" } else { "s" },
        if pinned { ", pinned to CPU 0; load on CPU 1" } else { ", not pinned" },
        google.port,
        upstream.port,
        envoy.log_path().display()
    );

    let minted = Instant::now();
    let tokens = mint_all(&google, &users, &audience)?;
    println!("soak: {} users ({} refused), tokens minted with {} in {} ms", users.len(), users.iter().filter(|u| !u.admitted(u.initially_member)).count(), google.current_kid().unwrap_or_default(), minted.elapsed().as_millis());

    let total = options.requests;
    let report_every = options.report_every.max(1);
    let slices = total.div_ceil(report_every) as usize;
    let started = Instant::now();
    let shared = Arc::new(Shared {
        users,
        total,
        port: ports.listen,
        started,
        deadline: started + Duration::from_secs(options.max_seconds),
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        tokens: RwLock::new(Arc::new(TokenSet { generation: 0, tokens })),
        worker_generation: (0..options.connections).map(|_| AtomicU64::new(0)).collect(),
        changes: RwLock::new(Changes {
            list: Vec::new(),
            ttl: Duration::from_secs(options.group_ttl),
            negative_ttl: Duration::from_secs(options.negative_ttl),
            margin: Duration::from_secs(2),
        }),
        latency_micros: (0..total).map(|_| AtomicU32::new(0)).collect(),
        outcome: (0..total).map(|_| AtomicU8::new(PENDING)).collect(),
        slice_done: (0..slices).map(|_| AtomicU64::new(0)).collect(),
        report_every,
        wrong: Mutex::new(WrongLog::default()),
        transport_errors: AtomicU64::new(0),
    });
    // One public request first, so that the plugin has reported its memory once.
    let _ = crate::http::get(ports.listen, "/healthz", &[]);
    thread::sleep(Duration::from_millis(100));
    let initial = memory::sample(&envoy);
    let mut memory_series = vec![memory_point(0, 0.0, initial)];
    println!("soak: {total} requests over {} connections; VM memory at start {}", options.connections, mib(initial.vm_bytes));

    let workers: Vec<JoinHandle<()>> = (0..options.connections)
        .map(|w| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || worker(&shared, w))
        })
        .collect();

    // The coordinator: rotations, retirements, group changes, reports.
    let mut rotations: Vec<Value> = Vec::new();
    let mut next_rotation = if options.rotate_every == 0 { u64::MAX } else { options.rotate_every };
    let mut retire_at: Option<(u64, usize)> = None;
    let mut minting: Option<(JoinHandle<Minted>, RotationStart)> = None;
    let mut change_points: Vec<u64> = options.change_at.iter().map(|f| (f * total as f64) as u64).filter(|&p| p > 0 && p < total).collect();
    change_points.sort_unstable();
    change_points.reverse();
    let mut flipped_now = false;
    let mut group_changes: Vec<Value> = Vec::new();
    let mut reported = 0usize;
    let mut slice_reports: Vec<Value> = Vec::new();
    let mut previous_report = (started, 0u64);
    let mut envoy_died = None;
    let mut last_alive_check = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(10));
        let done = shared.done.load(Ordering::SeqCst);
        let finished = workers.iter().all(JoinHandle::is_finished);

        // A rotation: the new key is published and signs from now on; the tokens are
        // minted with it in the background (seconds for 1,000 users), then swapped in.
        if !finished && minting.is_none() && done >= next_rotation && next_rotation < total {
            let google = google.clone();
            let users: Vec<User> = shared.users.clone();
            let audience = audience.clone();
            let at = (done, started.elapsed().as_secs_f64(), next_rotation, Instant::now());
            minting = Some((thread::spawn(move || Ok::<_, String>((google.rotate()?, mint_all(&google, &users, &audience)?))), at));
            next_rotation += options.rotate_every;
        }
        if minting.as_ref().is_some_and(|(handle, _)| handle.is_finished())
            && let Some((handle, (at_request, at_seconds, boundary, begun))) = minting.take()
        {
            let (kid, tokens) = handle.join().map_err(|_| "the minting thread panicked".to_owned())??;
            let generation = {
                let mut current = shared.tokens.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                let generation = current.generation + 1;
                *current = Arc::new(TokenSet { generation, tokens });
                generation
            };
            let in_use_from = shared.next.load(Ordering::SeqCst);
            let mint_ms = begun.elapsed().as_millis() as u64;
            println!("soak: rotation {generation} at request {at_request}: new key {kid} published; {} tokens minted with it in {mint_ms} ms, sent from request ~{in_use_from}", shared.users.len());
            rotations.push(json!({"generation": generation, "kid": kid, "at_request": at_request, "at_seconds": at_seconds, "mint_ms": mint_ms, "new_tokens_from_request": in_use_from}));
            // The old key goes half a rotation later, once no worker still holds an old token.
            retire_at = Some(((boundary + options.rotate_every / 2).max(in_use_from), rotations.len() - 1));
        }

        if let Some((at_request, rotation)) = retire_at
            && done >= at_request
        {
            let current = shared.tokens.read().map(|t| t.generation).unwrap_or(0);
            // Only once no worker can still send a token signed by the old key.
            if shared.worker_generation.iter().all(|g| { let g = g.load(Ordering::SeqCst); g == u64::MAX || g >= current }) {
                google.retire_oldest();
                println!("soak: retired the previous key at request {done}");
                rotations[rotation]["previous_key_retired_at_request"] = json!(done);
                rotations[rotation]["previous_key_retired_at_seconds"] = json!(started.elapsed().as_secs_f64());
                retire_at = None;
            }
        }

        if !finished && change_points.last().is_some_and(|&p| done >= p) {
            change_points.pop();
            flipped_now = !flipped_now;
            let mut changes = shared.changes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            let flipped: Vec<(usize, bool)> = flipping.iter().map(|&u| (u, shared.users[u].initially_member != flipped_now)).collect();
            // The time is taken before the stand-in changes: see `Changes::expected_member`.
            let at = Instant::now();
            changes.list.push(Change { at, at_request: done, flipped: flipped.clone() });
            let membership: BTreeMap<usize, bool> = flipped.iter().copied().collect();
            set_members(&google, &shared.users, &membership);
            let name = |member: bool| flipped.iter().filter(|(_, m)| *m == member).map(|(u, _)| shared.users[*u].email.clone()).collect::<Vec<_>>();
            let (added, removed) = (name(true), name(false));
            let at_seconds = at.duration_since(started).as_secs_f64();
            println!(
                "soak: live group {LIVE_GROUP} changed at request {done} ({at_seconds:.1} s): {} removed, {} added; their answers are not checked for requests overlapping the next {} s (removed) / {} s (added)",
                removed.len(),
                added.len(),
                changes.window(false).as_secs(),
                changes.window(true).as_secs()
            );
            group_changes.push(json!({
                "at_request": done, "at_seconds": at_seconds, "removed": removed, "added": added,
                "unchecked_window_seconds": {"removed": changes.window(false).as_secs_f64(), "added": changes.window(true).as_secs_f64()},
            }));
        }

        while reported < slices && (shared.slice_done[reported].load(Ordering::SeqCst) == slice_len(total, report_every, reported) || finished) {
            if finished && shared.slice_done[reported].load(Ordering::SeqCst) == 0 {
                // Never started (the run stopped early): nothing to report.
                reported = slices;
                break;
            }
            let (from, to) = slice_bounds(total, report_every, reported);
            let now = Instant::now();
            let sample = memory::sample(&envoy);
            let done_now = shared.done.load(Ordering::SeqCst);
            let report = slice_report(&shared, from, to, done_now, now.duration_since(previous_report.0).as_secs_f64(), done_now - previous_report.1);
            println!(
                "soak: {done_now:>8} requests {:>6.0} s  VM {:>9}  Envoy heap {:>9}  wrong so far: valid-refused {}, refused-admitted {}, identity {}  slice p50 {} us p99 {} us  {:.0} req/s  unchecked {}",
                now.duration_since(started).as_secs_f64(),
                mib(sample.vm_bytes),
                mib(sample.envoy_allocated_bytes),
                report["so_far"]["valid_refused"],
                report["so_far"]["refused_admitted"],
                report["so_far"]["identity_mismatch"],
                report["slice"]["p50_micros"],
                report["slice"]["p99_micros"],
                report["slice"]["requests_per_second"].as_f64().unwrap_or(0.0),
                report["so_far"]["unchecked"]
            );
            memory_series.push(memory_point(done_now, now.duration_since(started).as_secs_f64(), sample));
            slice_reports.push(report);
            previous_report = (now, done_now);
            reported += 1;
        }

        if finished && reported >= slices {
            break;
        }
        if last_alive_check.elapsed() > Duration::from_secs(1) {
            last_alive_check = Instant::now();
            if envoy_died.is_none() && !envoy.is_running() {
                envoy_died = Some(shared.done.load(Ordering::SeqCst));
                eprintln!("soak: Envoy exited; see {}", envoy.log_path().display());
                shared.stop.store(true, Ordering::SeqCst);
            }
        }
    }
    let elapsed = started.elapsed();
    for worker in workers {
        let _ = worker.join();
    }
    let final_memory = memory::sample(&envoy);
    let wsgate_stats = stats_map(&envoy, "wsgate");
    envoy.stop();

    let done = shared.done.load(Ordering::SeqCst);
    let stopped_by = if envoy_died.is_some() {
        "envoy_exited"
    } else if done < total {
        "max_seconds"
    } else {
        "request_count"
    };
    let counts = count(&shared, 0, total);
    let mut all: Vec<u32> = (0..total as usize).filter(|&i| shared.outcome[i].load(Ordering::Relaxed) != PENDING).map(|i| shared.latency_micros[i].load(Ordering::Relaxed)).collect();
    all.sort_unstable();
    let wrong = shared.wrong.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let result = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "settings": {
            "requests": total, "rotate_every": options.rotate_every, "report_every": report_every, "connections": options.connections,
            "users": shared.users.len(), "refused_users": shared.users.iter().filter(|u| !u.admitted(u.initially_member)).count(),
            "max_seconds": options.max_seconds, "envoy_workers": options.workers, "pinned": pinned,
            "keys_max_age_seconds": options.keys_max_age, "group_ttl_seconds": options.group_ttl, "negative_ttl_seconds": options.negative_ttl,
            "decision_log": options.decision_log, "live_group": LIVE_GROUP, "flipping_users": flipping.iter().map(|&u| shared.users[u].email.clone()).collect::<Vec<_>>(),
            "wasm": provenance(&options.wasm),
        },
        "stopped_by": stopped_by,
        "requests_done": done,
        "duration_seconds": elapsed.as_secs_f64(),
        "requests_per_second": done as f64 / elapsed.as_secs_f64(),
        "latency_micros": {"p50": quantile(&all, 0.5), "p99": quantile(&all, 0.99), "p999": quantile(&all, 0.999), "max": all.last().copied().unwrap_or(0)},
        "wrong_answers": {
            "valid_refused": counts[VALID_REFUSED as usize] + counts[VALID_FAILED as usize],
            "valid_refused_by_wsgate": counts[VALID_REFUSED as usize],
            "valid_failed_otherwise": counts[VALID_FAILED as usize],
            "refused_admitted": counts[REFUSED_ADMITTED as usize],
            "identity_mismatch": counts[IDENTITY_MISMATCH as usize],
            "total": counts[VALID_REFUSED as usize] + counts[VALID_FAILED as usize] + counts[REFUSED_ADMITTED as usize] + counts[IDENTITY_MISMATCH as usize],
            "by_kind": wrong.by_kind,
            "first_samples": wrong.samples,
        },
        "refused_with_another_status": counts[OTHER_REFUSAL as usize],
        "correct": counts[CORRECT as usize],
        "unchecked_group_change_window": {
            "requests": counts[EXCLUDED_ADMITTED as usize] + counts[EXCLUDED_REFUSED as usize],
            "admitted": counts[EXCLUDED_ADMITTED as usize],
            "refused": counts[EXCLUDED_REFUSED as usize],
            "rule": "for a user whose live-group membership changed, requests overlapping [change, change + TTL + 2 s] (TTL = ttl_seconds for a removal, negative_ttl_seconds for an addition) are not checked: wsgate may answer from the membership cached before the change until it expires. Every other user, and these users outside that window, are checked.",
        },
        "transport_errors": shared.transport_errors.load(Ordering::SeqCst),
        "upstream_requests_served": upstream.served(),
        "memory_series": memory_series,
        "memory_final": memory_point(done, elapsed.as_secs_f64(), final_memory),
        "slices": slice_reports,
        "rotations": rotations,
        "group_changes": group_changes,
        "wsgate_stats": wsgate_stats,
    });
    drop(wrong);
    let path = options.out.join("result.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap_or_default()).map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "soak: {done} requests in {:.1} s ({:.0} req/s), stopped by {stopped_by}; p50 {} us p99 {} us; wrong answers: {} valid refused, {} refused admitted, {} identity mismatches; {} refused with another status; {} unchecked (group-change windows); VM memory {} -> {}",
        elapsed.as_secs_f64(),
        result["requests_per_second"].as_f64().unwrap_or(0.0),
        result["latency_micros"]["p50"],
        result["latency_micros"]["p99"],
        result["wrong_answers"]["valid_refused"],
        result["wrong_answers"]["refused_admitted"],
        result["wrong_answers"]["identity_mismatch"],
        result["refused_with_another_status"],
        result["unchecked_group_change_window"]["requests"],
        mib(initial.vm_bytes),
        mib(final_memory.vm_bytes)
    );
    println!("soak: wrote {}", path.display());
    Ok(result)
}

fn worker(shared: &Shared, w: usize) {
    let mut client = KeepAlive::new(shared.port, Duration::from_secs(30));
    loop {
        if shared.stop.load(Ordering::Relaxed) || Instant::now() >= shared.deadline {
            break;
        }
        let i = shared.next.fetch_add(1, Ordering::SeqCst);
        if i >= shared.total {
            break;
        }
        let user = &shared.users[plan::user_of(i, shared.users.len())];
        let tokens = Arc::clone(&shared.tokens.read().unwrap_or_else(std::sync::PoisonError::into_inner));
        shared.worker_generation[w].store(tokens.generation, Ordering::SeqCst);
        let authorization = format!("Bearer {}", tokens.tokens[user.index]);
        let mut headers = vec![("authorization", authorization.as_str())];
        // Now and then a forged identity header, which wsgate must replace.
        if i % 7 == 3 {
            headers.push(("x-workspace-email", "ceo@example.com"));
        }
        let sent = Instant::now();
        let reply = client.get(user.path, &headers);
        let answered = Instant::now();
        let micros = answered.duration_since(sent).as_micros().min(u128::from(u32::MAX)) as u32;
        let outcome = judge(shared, i, user, tokens.generation, sent, answered, &reply);
        shared.latency_micros[i as usize].store(micros, Ordering::Relaxed);
        shared.outcome[i as usize].store(outcome, Ordering::Relaxed);
        shared.slice_done[(i / shared.report_every) as usize].fetch_add(1, Ordering::SeqCst);
        shared.done.fetch_add(1, Ordering::SeqCst);
    }
    shared.worker_generation[w].store(u64::MAX, Ordering::SeqCst);
}

/// Classifies one answer against what `user` must get at that time.
fn judge(shared: &Shared, i: u64, user: &User, generation: u64, sent: Instant, answered: Instant, reply: &std::io::Result<Reply>) -> u8 {
    let expected_admit = if user.live {
        let changes = shared.changes.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match changes.expected_member(user, sent, answered) {
            Membership::Known(member) => Some(user.admitted(member)),
            Membership::Undecidable => None,
        }
    } else {
        Some(user.admitted(false))
    };
    let Ok(reply) = reply else {
        shared.transport_errors.fetch_add(1, Ordering::Relaxed);
        let error = reply.as_ref().err().map(ToString::to_string).unwrap_or_default();
        return match expected_admit {
            Some(true) => note(shared, VALID_FAILED, &format!("valid request failed: transport error ({error})"), i, user, generation, sent, None),
            Some(false) => note(shared, OTHER_REFUSAL, &format!("refused with a transport error ({error})"), i, user, generation, sent, None),
            None => EXCLUDED_REFUSED,
        };
    };
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let from_upstream = reply.header(MARK_HEADER) == Some(MARK) || body["upstream"] == MARK;
    let refused_by_wsgate = matches!(reply.status, 401 | 403) && !from_upstream;
    match expected_admit {
        None => {
            if from_upstream {
                EXCLUDED_ADMITTED
            } else {
                EXCLUDED_REFUSED
            }
        }
        Some(true) if from_upstream => {
            if reply.status == 200 && body["email"] == user.email.as_str() {
                CORRECT
            } else {
                let kind = format!("admitted with identity {} (status {})", body["email"], reply.status);
                note(shared, IDENTITY_MISMATCH, &kind, i, user, generation, sent, Some(reply))
            }
        }
        Some(true) if refused_by_wsgate => {
            let kind = format!("valid request refused: {} {}", reply.status, body["error"].as_str().unwrap_or("?"));
            note(shared, VALID_REFUSED, &kind, i, user, generation, sent, Some(reply))
        }
        Some(true) => {
            let kind = format!("valid request failed: {} {}", reply.status, body["error"].as_str().unwrap_or(""));
            note(shared, VALID_FAILED, &kind, i, user, generation, sent, Some(reply))
        }
        Some(false) if from_upstream => note(shared, REFUSED_ADMITTED, "refused request admitted (the upstream answered)", i, user, generation, sent, Some(reply)),
        Some(false) if reply.status == user.refusal_status() && refused_by_wsgate => CORRECT,
        Some(false) => {
            let kind = format!("refused with {} {} instead of {}", reply.status, body["error"].as_str().unwrap_or(""), user.refusal_status());
            note(shared, OTHER_REFUSAL, &kind, i, user, generation, sent, Some(reply))
        }
    }
}

/// Counts a wrong (or unexpected) answer by kind and keeps the first few in full.
#[allow(clippy::too_many_arguments)]
fn note(shared: &Shared, outcome: u8, kind: &str, i: u64, user: &User, generation: u64, sent: Instant, reply: Option<&Reply>) -> u8 {
    let mut wrong = shared.wrong.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    *wrong.by_kind.entry(format!("{kind} [{} {}]", user.kind.name(), user.path)).or_insert(0) += 1;
    if wrong.samples.len() < 40 {
        let body = reply.map(|r| String::from_utf8_lossy(&r.body[..r.body.len().min(300)]).into_owned());
        wrong.samples.push(json!({
            "request": i, "kind": kind, "user": user.email, "user_kind": user.kind.name(), "path": user.path,
            "token_generation": generation, "sent_at_seconds": sent.duration_since(shared.started).as_secs_f64(),
            "status": reply.map(|r| r.status), "decision": reply.and_then(|r| r.header("x-wsgate-decision")), "body": body,
        }));
    }
    outcome
}

fn count(shared: &Shared, from: u64, to: u64) -> [u64; OUTCOMES] {
    let mut counts = [0u64; OUTCOMES];
    for i in from..to {
        let outcome = shared.outcome[i as usize].load(Ordering::Relaxed) as usize;
        counts[outcome.min(OUTCOMES - 1)] += 1;
    }
    counts
}

fn slice_report(shared: &Shared, from: u64, to: u64, done: u64, seconds: f64, requests: u64) -> Value {
    let mut latencies: Vec<u32> = (from..to).filter(|&i| shared.outcome[i as usize].load(Ordering::Relaxed) != PENDING).map(|i| shared.latency_micros[i as usize].load(Ordering::Relaxed)).collect();
    latencies.sort_unstable();
    let slice = count(shared, from, to);
    let so_far = count(shared, 0, to);
    let wrong = |c: &[u64; OUTCOMES]| json!({
        "valid_refused": c[VALID_REFUSED as usize] + c[VALID_FAILED as usize],
        "refused_admitted": c[REFUSED_ADMITTED as usize],
        "identity_mismatch": c[IDENTITY_MISMATCH as usize],
        "refused_with_another_status": c[OTHER_REFUSAL as usize],
        "unchecked": c[EXCLUDED_ADMITTED as usize] + c[EXCLUDED_REFUSED as usize],
    });
    json!({
        "requests": [from, to],
        "done_when_reported": done,
        "slice": {
            "completed": latencies.len(),
            "p50_micros": quantile(&latencies, 0.5),
            "p99_micros": quantile(&latencies, 0.99),
            "requests_per_second": if seconds > 0.0 { requests as f64 / seconds } else { 0.0 },
            "wrong": wrong(&slice),
        },
        "so_far": wrong(&so_far),
    })
}

fn slice_bounds(total: u64, every: u64, k: usize) -> (u64, u64) {
    let from = k as u64 * every;
    (from, (from + every).min(total))
}

fn slice_len(total: u64, every: u64, k: usize) -> u64 {
    let (from, to) = slice_bounds(total, every, k);
    to - from
}

/// The live group's members: alice (as in the demo), every user whose membership is
/// as at the start, and the flipped users as `flipped` says.
fn set_members(google: &GoogleStandIn, users: &[User], flipped: &BTreeMap<usize, bool>) {
    let mut members: Vec<&str> = crate::demo::LIVE_GROUP_MEMBERS.to_vec();
    members.extend(users.iter().filter(|u| flipped.get(&u.index).copied().unwrap_or(u.initially_member)).map(|u| u.email.as_str()));
    google.set_members(LIVE_GROUP, &members);
}

fn mint_all(google: &GoogleStandIn, users: &[User], audience: &str) -> Result<Vec<String>, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    users.iter().map(|user| google.mint(&user.claims(now, audience))).collect()
}

fn memory_point(requests: u64, seconds: f64, sample: MemorySample) -> Value {
    json!({"requests": requests, "seconds": seconds, "vm_memory_bytes": sample.vm_bytes,
           "envoy_allocated_bytes": sample.envoy_allocated_bytes, "envoy_heap_bytes": sample.envoy_heap_bytes})
}

/// Every stat whose name contains `filter`, as a name -> value map (non-numeric values, such as histograms, as text).
fn stats_map(envoy: &Envoy, filter: &str) -> Value {
    let text = envoy.stats(filter).unwrap_or_default();
    let map: Map<String, Value> = text
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_owned(), value.trim().parse::<u64>().map_or_else(|_| json!(value.trim()), |v| json!(v))))
        .collect();
    Value::Object(map)
}

/// Which .wasm ran: size, sha256 and the git state of the plugin sources.
fn provenance(wasm: &std::path::Path) -> Value {
    let output = |program: &str, args: &[&str]| {
        Command::new(program).args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let path = wasm.display().to_string();
    json!({
        "path": path,
        "bytes": std::fs::metadata(wasm).map(|m| m.len()).unwrap_or(0),
        "sha256": output("sha256sum", &[&path]).and_then(|s| s.split_whitespace().next().map(str::to_owned)),
        "git_head": output("git", &["rev-parse", "HEAD"]),
        "plugin_sources_modified": output("git", &["status", "--porcelain", "--", "plugin"]).map(|s| s.lines().map(str::to_owned).collect::<Vec<_>>()),
    })
}

/// Moves this process (every thread it has and will have) to `cpu` with `taskset`.
fn pin_self_to_cpu(cpu: u32) -> bool {
    let pid = std::process::id().to_string();
    Command::new("taskset").args(["-a", "-cp", &cpu.to_string(), &pid]).output().is_ok_and(|o| o.status.success())
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}
