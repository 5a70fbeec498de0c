//! Reports: a diff per failing case and a closing `N passed, M failed` line, or JSON.

use crate::replay::CaseResult;
use serde_json::json;

pub fn passed(results: &[CaseResult]) -> usize {
    results.iter().filter(|r| r.differences.is_empty()).count()
}

pub fn text(results: &[CaseResult]) -> String {
    let mut out = String::new();
    for result in results.iter().filter(|r| !r.differences.is_empty()) {
        out.push_str(&format!("FAIL {} ({})\n", result.name, result.source));
        for difference in &result.differences {
            out.push_str(&format!("  {difference}\n"));
        }
    }
    let passed = passed(results);
    out.push_str(&format!("{} passed, {} failed\n", passed, results.len() - passed));
    out
}

pub fn json(results: &[CaseResult]) -> String {
    let cases: Vec<_> = results
        .iter()
        .map(|r| json!({"name": r.name, "source": r.source, "passed": r.differences.is_empty(), "differences": r.differences}))
        .collect();
    let passed = passed(results);
    json!({"passed": passed, "failed": results.len() - passed, "cases": cases}).to_string()
}
