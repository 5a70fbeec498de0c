//! Decisions per second of the compiled policy: a 10-rule policy against a 1,000-rule
//! policy with a 10,000-group directory, in one run. Indexing by host and first path
//! segment should make them cost about the same. `make bench-policy`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark that cannot set up should stop loudly

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;
use wsgate_core::policy::Policy;
use wsgate_core::policy::compile::compile;
use wsgate_core::policy::pattern::RequestShape;
use wsgate_core::policy::subjects::Caller;
use wsgate_core::policy_config::PolicyConfig;

/// `rules` rules over 50 hosts and `rules` path prefixes, each admitting one group;
/// a directory of `groups` groups of 5 users, nested as a tree (fan-out 10).
fn policy(rules: usize, groups: usize) -> Policy {
    let rule = |i: usize| {
        json!({
            "name": format!("rule-{i:04}"),
            "match": {"hosts": [format!("svc{}.example.com", i % 50)], "paths": [{"prefix": format!("/api{i}")}], "methods": ["GET", "POST"]},
            "effect": if i % 10 == 9 { "deny" } else { "allow" },
            "subjects": {"groups": [format!("g{i}@example.com")]}
        })
    };
    let mut directory = serde_json::Map::new();
    for g in 0..groups {
        let mut members: Vec<Value> = (0..5).map(|u| json!(format!("user{}@example.com", g * 5 + u))).collect();
        members.extend((1..=10).map(|c| g * 10 + c).filter(|child| *child < groups).map(|child| json!(format!("g{child}@example.com"))));
        directory.insert(format!("g{g}@example.com"), Value::Array(members));
    }
    let config: PolicyConfig = serde_json::from_value(json!({"rules": (0..rules).map(rule).collect::<Vec<_>>(), "directory": directory})).unwrap();
    let (policy, diagnostics) = compile(&config, "");
    assert!(diagnostics.errors.is_empty(), "{:?}", diagnostics.errors);
    policy.unwrap()
}

/// A fixed mix of requests: hits, misses, and denials, spread over hosts and rules.
fn requests(rules: usize) -> Vec<(RequestShape, usize)> {
    (0..64)
        .map(|k| {
            let i = (k * 7919) % rules;
            let path = if k % 4 == 3 { "/other".to_owned() } else { format!("/api{i}/items/{k}") };
            let shape = RequestShape::new(format!("svc{}.example.com", i % 50).as_bytes(), path.as_bytes(), b"GET").unwrap();
            (shape, i)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy decisions");
    group.throughput(Throughput::Elements(1));
    for (rules, groups) in [(10, 0), (1_000, 10_000)] {
        let policy = policy(rules, groups);
        let callers: Vec<Caller> = requests(rules)
            .iter()
            .map(|(_, i)| policy.caller(Some(&format!("user{}@example.com", i * 5)), Some("example.com"), &[]))
            .collect();
        let requests = requests(rules);
        let mut n = 0usize;
        group.bench_function(format!("{rules} rules, {groups} groups"), |b| {
            b.iter(|| {
                n = (n + 1) % requests.len();
                black_box(policy.evaluate(black_box(&requests[n].0), black_box(&callers[n])))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
