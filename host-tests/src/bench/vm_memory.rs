//! The plugin VM's memory at set request counts, read right after wsgate samples it, with the requests sent on parallel keep-alive connections.

use crate::envoy::Envoy;
use crate::memory;
use crate::soak::client::KeepAlive;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// wsgate sets its memory gauge on its 1st request and every 1,024th after
/// (`MEMORY_SAMPLE_EVERY` in plugin/filter/src/metrics.rs): requests 1, 1,025, 2,049, …
pub const SAMPLE_EVERY: u64 = 1024;

/// Requests the listener of `envoy/bench.yaml` has received (`stat_prefix: bench`).
const SERVED: &str = "http.bench.downstream_rq_total";

/// One reading of the gauge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub bytes: u64,
    /// Requests Envoy had received when the gauge was read.
    pub served: u64,
    /// The request on which the plugin set the value read (it had answered one fewer).
    pub sampled_at: u64,
    /// Requests this reading sent itself, and how long they took.
    pub sent: u64,
    pub seconds: f64,
}

impl Point {
    pub fn to_json(self) -> Value {
        json!({"bytes": self.bytes, "requests_served": self.served, "sampled_at_request": self.sampled_at,
               "requests_sent_for_this_point": self.sent, "seconds": self.seconds})
    }
}

/// The first request whose sample comes after `answered` requests were answered.
pub fn first_sample_after(answered: u64) -> u64 {
    answered.div_ceil(SAMPLE_EVERY) * SAMPLE_EVERY + 1
}

/// The request whose sample the gauge shows once `served` requests went through.
pub fn last_sample_at(served: u64) -> u64 {
    if served == 0 { 0 } else { (served - 1) / SAMPLE_EVERY * SAMPLE_EVERY + 1 }
}

/// Sends requests (tokens in turn) until the plugin has sampled its memory after at
/// least `answered` requests, then reads the gauge. One worker, so one VM sees them all.
pub fn after(envoy: &Envoy, tokens: &[String], answered: u64, connections: usize) -> Result<Point, String> {
    let target = first_sample_after(answered);
    let missing = target.saturating_sub(envoy.counter(SERVED));
    let started = Instant::now();
    send(envoy.ports.listen, tokens, missing, connections)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Point { sent: missing, seconds, ..now(envoy) })
}

/// The gauge as it stands.
pub fn now(envoy: &Envoy) -> Point {
    let served = envoy.counter(SERVED);
    Point { bytes: memory::vm_memory(envoy), served, sampled_at: last_sample_at(served), sent: 0, seconds: 0.0 }
}

/// Sends `count` GETs over `connections` keep-alive connections in parallel: far
/// faster than one connection per request, and (unlike wrk) an exact count.
pub fn send(port: u16, tokens: &[String], count: u64, connections: usize) -> Result<(), String> {
    let connections = connections.max(1) as u64;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|worker| scope.spawn(move || send_share(port, tokens, count, connections, worker)))
            .collect();
        workers.into_iter().try_for_each(|w| w.join().map_err(|_| "a request thread panicked".to_owned())?)
    })
}

/// Requests `worker`, `worker + connections`, … below `count`, on one connection.
fn send_share(port: u16, tokens: &[String], count: u64, connections: u64, worker: u64) -> Result<(), String> {
    let mut client = KeepAlive::new(port, Duration::from_secs(10));
    for request in (worker..count).step_by(connections as usize) {
        let token = tokens.get(request as usize % tokens.len().max(1)).map_or("", String::as_str);
        let auth = format!("Bearer {token}");
        client.get("/", &[("authorization", &auth)]).map_err(|e| format!("request {request}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sample_after_a_count_is_the_next_multiple_plus_one() {
        assert_eq!(first_sample_after(0), 1);
        assert_eq!(first_sample_after(1_000), 1_025);
        assert_eq!(first_sample_after(1_024), 1_025);
        assert_eq!(first_sample_after(1_025), 2_049);
        assert_eq!(first_sample_after(100_000), 100_353);
    }

    #[test]
    fn the_gauge_shows_the_last_sample_taken() {
        assert_eq!(last_sample_at(0), 0);
        assert_eq!(last_sample_at(1), 1);
        assert_eq!(last_sample_at(1_024), 1);
        assert_eq!(last_sample_at(1_025), 1_025);
        assert_eq!(last_sample_at(150_000), 149_505);
    }
}
