//! Running wrk (Debian's package) against one Envoy and reading its `--latency` report.

use std::path::Path;
use std::process::Command;

/// One wrk run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub requests_per_second: f64,
    pub p50_micros: f64,
    pub p99_micros: f64,
    pub non_2xx: u64,
}

/// wrk pinned to CPU 1 (Envoy gets CPU 0), one thread, `connections` connections.
pub fn run(url: &str, script: &Path, seconds: u32, connections: u32) -> Result<Run, String> {
    let output = Command::new("taskset")
        .args(["-c", "1", "wrk", "-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk (apt-get install wrk): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse(&text).ok_or_else(|| format!("unreadable wrk output:\n{text}{}", String::from_utf8_lossy(&output.stderr)))
}

pub fn parse(report: &str) -> Option<Run> {
    let field = |prefix: &str| report.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map(str::trim);
    Some(Run {
        requests_per_second: field("Requests/sec:")?.parse().ok()?,
        p50_micros: micros(field("50%")?)?,
        p99_micros: micros(field("99%")?)?,
        non_2xx: field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

/// `812.00us`, `1.23ms`, `2.00s` → microseconds.
fn micros(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let number: f64 = value[..split].parse().ok()?;
    match &value[split..] {
        "us" => Some(number),
        "ms" => Some(number * 1_000.0),
        "s" => Some(number * 1_000_000.0),
        _ => None,
    }
}

/// A wrk Lua script sending each request with the next token of `tokens`.
pub fn token_script(tokens: &[String]) -> String {
    header_script("authorization", "Bearer ", tokens)
}

/// A wrk Lua script sending each request with header `name`: `prefix` and the next
/// of `values` (`cookie`, `wsgate-session-0=`: signed-in browsers).
pub fn header_script(name: &str, prefix: &str, values: &[String]) -> String {
    let list: Vec<String> = values.iter().map(|t| format!("  \"{t}\"")).collect();
    format!(
        "tokens = {{\n{}\n}}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(\"GET\", \"/\", {{[\"{name}\"] = \"{prefix}\" .. tokens[(counter % #tokens) + 1]}})\nend\n",
        list.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_report_is_read_in_microseconds() {
        let report = "Running 5s test\n  Latency Distribution\n     50%  812.00us\n     75%    1.10ms\n     99%    2.50ms\n  62000 requests in 5.00s\n  Non-2xx or 3xx responses: 6200\nRequests/sec:  12400.50\n";
        let run = parse(report).unwrap();
        assert_eq!(run, Run { requests_per_second: 12400.5, p50_micros: 812.0, p99_micros: 2500.0, non_2xx: 6200 });
    }

    #[test]
    fn a_report_without_a_rate_is_refused() {
        assert!(parse("unable to connect").is_none());
    }
}
