//! The policy playground in a real headless Chromium (WebDriver), served by the server
//! `make playground` runs, checked against the native core: errors at their field
//! paths, the same decision and rule as `wsgate explain`, every cell of the matrix, the
//! cells a change flips, and a replay report's failure. Run with `make playground-test`
//! (part of `make test`), which builds the page and sets `WSGATE_PLAYGROUND`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::repo_file;
use wsgate_core::document::load;
use wsgate_core::explain::{Question, RequestLine, explain};
use wsgate_core::policy::Policy;
use wsgate_core::policy::samples::sample_requests;
use wsgate_core::session::setup::no_environment;
use wsgate_host_tests::webdriver::Browser;

/// `plugin/playground/serve.py` serving the built page, and a browser on it.
struct Playground {
    server: Child,
    url: String,
    browser: Browser,
    dir: PathBuf,
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn playground(test: &str) -> Playground {
    let site = std::env::var("WSGATE_PLAYGROUND").expect("WSGATE_PLAYGROUND: the built playground (make playground-build)");
    let mut server = Command::new("python3")
        .arg(support::repo_path("plugin/playground/serve.py"))
        .args([site.as_str(), "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs the playground's server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("piped")).read_line(&mut line).expect("the server prints its URL");
    let url = line.split_whitespace().find(|word| word.starts_with("http://")).unwrap_or_else(|| panic!("no URL in {line:?}")).to_owned();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-playground").join(test);
    std::fs::create_dir_all(&dir).unwrap();
    let browser = Browser::start(&dir).unwrap_or_else(|e| panic!("{e}"));
    let playground = Playground { server, url, browser, dir };
    playground.browser.open(&playground.url).unwrap();
    playground.wait_for("return document.body.dataset.ready === 'true';", "the page to load wsgate-core");
    playground
}

impl Playground {
    /// Polls `condition` (a script returning true when done) for up to 10 s.
    fn wait_for(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.browser.script(condition, json!([])).unwrap() == true {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("waited 10 s for {what}; the page says:\n{}", self.browser.text().unwrap());
    }

    /// Puts `text` into the field with this id as a paste would: the value, then the
    /// `input` event the page listens to.
    fn paste(&self, id: &str, text: &str) {
        let script = "const field = document.getElementById(arguments[0]); field.value = arguments[1]; field.dispatchEvent(new Event('input', {bubbles: true}));";
        self.browser.script(script, json!([id, text])).unwrap();
    }

    fn value(&self, script: &str) -> Value {
        self.browser.script(script, json!([])).unwrap()
    }

    /// Renders the matrix and returns its header labels and every cell's data.
    fn render(&self) -> RenderedMatrix {
        self.value("window.wsgateLastRender = null; document.getElementById('render').click(); return true;");
        self.wait_for("return window.wsgateLastRender !== null || document.querySelector('#matrix-summary .error') !== null;", "the matrix");
        let shown = self.value(
            "const cells = [...document.querySelectorAll('#matrix td.cell')].map(td => ({row: +td.dataset.row, column: +td.dataset.column, outcome: td.dataset.outcome, rule: td.dataset.rule, flipped: td.dataset.flipped ?? null, title: td.title}));
             return {rows: [...document.querySelectorAll('#matrix th.caller')].map(th => th.textContent),
                     columns: [...document.querySelectorAll('#matrix th.request')].map(th => th.textContent),
                     cells, render: window.wsgateLastRender, error: document.querySelector('#matrix-summary .error')?.textContent ?? null};",
        );
        assert!(shown["error"].is_null(), "the matrix failed: {}", shown["error"]);
        let texts = |list: &Value| list.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
        let cell = |c: &Value| RenderedCell {
            row: c["row"].as_u64().unwrap() as usize,
            column: c["column"].as_u64().unwrap() as usize,
            outcome: c["outcome"].as_str().unwrap().to_owned(),
            rule: c["rule"].as_str().unwrap().to_owned(),
            flipped: c["flipped"].as_str().map(str::to_owned),
            title: c["title"].as_str().unwrap().to_owned(),
        };
        RenderedMatrix { rows: texts(&shown["rows"]), columns: texts(&shown["columns"]), cells: shown["cells"].as_array().unwrap().iter().map(cell).collect(), render: shown["render"].clone() }
    }
}

struct RenderedMatrix {
    rows: Vec<String>,
    columns: Vec<String>,
    cells: Vec<RenderedCell>,
    render: Value,
}

struct RenderedCell {
    row: usize,
    column: usize,
    outcome: String,
    rule: String,
    flipped: Option<String>,
    /// What hovering shows.
    title: String,
}

fn policy(text: &str) -> Box<Policy> {
    match load(text.as_bytes(), &no_environment) {
        Ok((wsgate_core::document::Document::Policy(policy), _)) => policy,
        _ => panic!("not a valid policy document"),
    }
}

/// The native core's outcome and rule for a caller (`None`: anonymous) and a request.
fn native(policy: &Policy, email: Option<&str>, method: &str, host: &str, path: &str) -> (String, String) {
    let question = Question { email, groups: &[], domain: None, via: None, provider: None, request: RequestLine { method, host, path } };
    let answer = explain(policy, &question).unwrap();
    (answer.outcome.to_owned(), answer.decision.rule.unwrap_or_default())
}

#[test]
#[ignore = "needs Chromium and the built playground: run `make playground-test`"]
fn a_broken_policy_shows_its_error_at_its_field_path() {
    let page = playground("broken");
    let broken = repo_file("policies/multi-service-gateway.json").replacen(r#""effect": "deny""#, r#""effect": "refuse""#, 1);
    page.paste("config-a", &broken);
    page.wait_for("return document.querySelector('#problems-a li.error') !== null;", "the error list");
    let shown = page.value("const li = document.querySelector('#problems-a li.error'); const mark = document.querySelector('#backdrop-a mark.error'); return {path: li.dataset.path, text: li.textContent, marked: mark && mark.textContent};");
    let native = load(broken.as_bytes(), &no_environment).err().expect("the core refuses it too");
    assert_eq!(shown["path"], native[0].path.as_str(), "{shown}");
    assert_eq!(shown["path"], "rules[2].effect");
    assert!(shown["text"].as_str().unwrap().contains(native[0].message.as_str()), "{shown}");
    assert_eq!(shown["marked"], r#""refuse""#, "the mark covers the field's value in the text");
}

#[test]
#[ignore = "needs Chromium and the built playground: run `make playground-test`"]
fn alice_in_eng_gets_the_decision_and_rule_wsgate_explain_gives() {
    let page = playground("ask");
    let file = "policies/engineering-internal-api.json";
    page.paste("config-a", &repo_file(file));
    let (host, path) = ("internal-api.example.com", "/v1//projects");
    for (id, value) in [("email", "alice@example.com"), ("groups", "eng@example.com"), ("host", host), ("path", path)] {
        page.paste(id, value);
    }
    page.value("document.querySelector('#ask button[type=submit]').click(); return true;");
    page.wait_for("return document.querySelector('#answer .decision, #answer .error') !== null;", "the answer");
    let shown = page.value("return {decision: document.querySelector('#answer .decision')?.textContent, rule: document.getElementById('answer-rule')?.textContent, matched: document.getElementById('answer-path')?.textContent, marked: document.querySelector('#rule-layer-a mark.rule')?.textContent, error: document.querySelector('#answer .error')?.textContent};");
    assert!(shown["error"].is_null(), "{shown}");
    let cli = std::env::var("WSGATE_CLI").expect("WSGATE_CLI: the wsgate CLI (make cli)");
    let output = Command::new(cli)
        .args(["explain", &support::repo_path(file).display().to_string(), "--email", "alice@example.com", "--group", "eng@example.com", "--host", host, "--path", path])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "wsgate explain: {said}{}", String::from_utf8_lossy(&output.stderr));
    let line = |name: &str| said.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or_else(|| panic!("no `{name}` in:\n{said}")).to_owned();
    // `decision: allow (200 allowed)` and `allow — 200 allowed`.
    let decision = line("decision:");
    let (effect, status_code) = decision.split_once(' ').unwrap();
    assert_eq!(shown["decision"], format!("{effect} — {}", status_code.trim_matches(['(', ')'])), "{said}");
    assert_eq!(shown["rule"], line("rule:"), "{said}");
    assert_eq!(shown["matched"], line("matched:"), "{said}");
    assert_eq!(shown["rule"], "engineering");
    assert!(shown["marked"].as_str().unwrap().starts_with("{\n      \"name\": \"engineering\""), "the deciding rule is marked in the text: {shown}");
    std::fs::write(page.dir.join("page.png"), page.browser.screenshot("body").unwrap()).unwrap();
}

#[test]
#[ignore = "needs Chromium and the built playground: run `make playground-test`"]
fn the_matrix_agrees_with_the_native_core_cell_by_cell() {
    let page = playground("matrix");
    let text = repo_file("policies/multi-service-gateway.json");
    page.paste("config-a", &text);
    let shown = page.render();
    let policy = policy(&text);
    let mut callers: Vec<Option<&str>> = policy.directory_members().into_iter().map(Some).collect();
    callers.push(None);
    let samples = sample_requests(&policy);
    let names: Vec<&str> = callers.iter().map(|c| c.unwrap_or("anonymous")).collect();
    assert_eq!(shown.rows, names, "rows: the directory's members, then anonymous");
    let labels: Vec<String> = samples.iter().map(|s| format!("{} {}{}", s.method, s.host, s.path)).collect();
    assert_eq!(shown.columns, labels, "columns: a request per rule");
    assert_eq!(shown.cells.len(), callers.len() * samples.len(), "every cell drawn");
    for cell in &shown.cells {
        let sample = &samples[cell.column];
        let expected = native(&policy, callers[cell.row], &sample.method, &sample.host, &sample.path);
        assert_eq!((cell.outcome.clone(), cell.rule.clone()), expected, "{} × {}", names[cell.row], labels[cell.column]);
        let by = if cell.rule.is_empty() { "by the default".to_owned() } else { format!("by rule {}", cell.rule) };
        assert!(cell.title.contains(&by), "hovering says which rule decided: {}", cell.title);
    }
    assert!(shown.cells.iter().any(|c| c.outcome == "allow") && shown.cells.iter().any(|c| c.outcome == "deny"));
    let png = page.browser.screenshot("#matrix-section").unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let saved = page.dir.join("matrix.png");
    std::fs::write(&saved, png).unwrap();
    println!("playground: {} × {} matrix checked cell by cell; screenshot {}", callers.len(), samples.len(), saved.display());
}

#[test]
#[ignore = "needs Chromium and the built playground: run `make playground-test`"]
fn a_changed_rule_marks_exactly_the_cells_it_flips() {
    let page = playground("flip");
    let before = repo_file("policies/multi-service-gateway.json");
    let after = before.replacen(r#""groups": ["people-team@example.com"]"#, r#""groups": ["finance@example.com"]"#, 1);
    assert_ne!(before, after);
    page.paste("config-a", &before);
    page.paste("config-b", &after);
    page.paste("callers", "fred@example.com\npetra@example.com\nanonymous\nzoe@example.com people-team@example.com");
    let shown = page.render();
    let (old, new) = (policy(&before), policy(&after));
    let mut samples = sample_requests(&old);
    for sample in sample_requests(&new) {
        if !samples.contains(&sample) {
            samples.push(sample);
        }
    }
    let labels: Vec<String> = samples.iter().map(|s| format!("{} {}{}", s.method, s.host, s.path)).collect();
    assert_eq!(shown.columns, labels, "columns: both configurations' requests");
    let callers: [(Option<&str>, &[&str]); 4] = [(Some("fred@example.com"), &[]), (Some("petra@example.com"), &[]), (None, &[]), (Some("zoe@example.com"), &["people-team@example.com"])];
    assert_eq!(shown.cells.len(), callers.len() * samples.len(), "every cell drawn");
    let mut flipped = 0;
    for cell in &shown.cells {
        let (email, groups) = callers[cell.row];
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        let sample = &samples[cell.column];
        let request = RequestLine { method: &sample.method, host: &sample.host, path: &sample.path };
        let ask = |policy: &Policy| explain(policy, &Question { email, groups: &groups, domain: None, via: None, provider: None, request }).unwrap().outcome;
        let changes = ask(&old) != ask(&new);
        assert_eq!(cell.flipped.is_some(), changes, "row {} column {}", cell.row, cell.column);
        assert_eq!(cell.outcome, ask(&new));
        if let Some(was) = &cell.flipped {
            assert_eq!(was, ask(&old));
        }
        flipped += usize::from(changes);
    }
    assert_eq!(shown.render["flipped"], flipped);
    assert!(flipped >= 3, "fred gains hr, petra and zoe lose it: {flipped}");
    let saved = page.dir.join("matrix-change.png");
    std::fs::write(&saved, page.browser.screenshot("#matrix-section").unwrap()).unwrap();
    println!("playground: {flipped} flipped cells marked, exactly the native core's; screenshot {}", saved.display());
}

#[test]
#[ignore = "needs Chromium and the built playground: run `make playground-test`"]
fn a_replay_report_shows_its_failure_side_by_side() {
    let page = playground("replay");
    let cases = support::cases_dir();
    let wrong = page.dir.join("wrong.json");
    std::fs::write(&wrong, r#"{"cases": [{"name": "health is not really public", "request": {"path": "/healthz"}, "expect": {"status": 401}}]}"#).unwrap();
    let cli = std::env::var("WSGATE_CLI").expect("WSGATE_CLI: the wsgate CLI (make cli)");
    let output = Command::new(cli)
        .args(["replay", "--native", "--json", "--config"])
        .arg(cases.join("config.json"))
        .arg("--key")
        .arg(cases.join("TEST-ONLY-signing-key.json"))
        .arg(cases.join("traffic"))
        .arg(&wrong)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["failed"], 1, "{report}");
    let file = page.dir.join("report.json");
    std::fs::write(&file, &output.stdout).unwrap();
    page.browser.upload("#report-file", &file).unwrap();
    page.wait_for("return document.querySelector('#report .summary') !== null;", "the report");
    let shown = page.value("return {summary: document.querySelector('#report .summary').textContent, passed: document.querySelectorAll('#report li.passed').length, failed: [...document.querySelectorAll('#report li.failed')].map(li => ({name: li.querySelector('.name').textContent, rows: [...li.querySelectorAll('table.diff tr')].slice(1).map(tr => [...tr.children].map(td => td.textContent))}))};");
    assert_eq!(shown["summary"], format!("{} passed, 1 failed", report["passed"]));
    assert_eq!(shown["passed"], report["passed"]);
    assert_eq!(shown["failed"], json!([{"name": "health is not really public", "rows": [["status", "\"401\"", "\"200\""]]}]), "{shown}");
}

/// A policy of `rules` rules over 20 hosts, and 20 callers and 20 requests that hit them.
fn large_policy(rules: usize) -> (String, String, String) {
    let rules: Vec<Value> = (0..rules)
        .map(|i| {
            let effect = if i % 7 == 0 { "deny" } else { "allow" };
            json!({"name": format!("rule-{i:04}"), "effect": effect, "match": {"hosts": [format!("svc-{}.example.com", i % 20)], "paths": [{"prefix": format!("/area-{}", i % 50)}]}, "subjects": {"groups": [format!("team-{}@example.com", i % 40)]}})
        })
        .collect();
    let callers: Vec<String> = (0..20).map(|i| format!("user-{i}@example.com team-{}@example.com,team-{}@example.com", i % 40, (i * 3 + 1) % 40)).collect();
    let requests: Vec<String> = (0..20).map(|i| format!("GET svc-{}.example.com /area-{}/items", i % 20, (i * 7) % 50)).collect();
    (json!({"rules": rules}).to_string(), callers.join("\n"), requests.join("\n"))
}

#[test]
#[ignore = "needs Chromium and the built playground: run `make playground-test`"]
fn a_20_by_20_matrix_of_a_1000_rule_policy_renders_and_says_how_fast() {
    let page = playground("speed");
    let (text, callers, requests) = large_policy(1000);
    page.paste("config-a", &text);
    page.paste("callers", &callers);
    page.paste("requests", &requests);
    let mut times: Vec<f64> = (0..7).map(|_| page.render()).map(|m| {
        assert_eq!(m.cells.len(), 400);
        m.render["ms"].as_f64().unwrap()
    }).collect();
    times.sort_by(f64::total_cmp);
    // Measured, not asserted: the note reports it (issue 18 asks for under 100 ms).
    println!("playground speed: 20 × 20 matrix of a 1,000-rule policy rendered in median {:.1} ms (min {:.1}, max {:.1}; 7 renders in headless Chromium)", times[3], times[0], times[6]);
}
