//! The playground's questions, answered by wsgate-core exactly as the filter and
//! `wsgate validate`/`explain` answer them; JSON in, JSON out, so the browser layer
//! ([`crate`]'s exports) only passes strings.

use crate::locate::{Span, locate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wsgate_core::{Gate, Reason};
use wsgate_core::diagnostics::ConfigError;
use wsgate_core::document::{Document, load};
use wsgate_core::explain::{Explanation, Question, RequestLine, TokenExplanation, explain, explain_token};
use wsgate_core::policy::Policy;
use wsgate_core::policy::samples::{SampleRequest, sample_requests};

/// The browser has no VM environment: a configuration whose sign-in names secrets is
/// refused for want of them, as `wsgate validate` refuses it without them.
fn no_environment(_: &str) -> Option<String> {
    None
}

/// A configuration's problems, each with its place in the text.
#[derive(Debug, Serialize)]
pub struct Checked {
    pub ok: bool,
    /// `config` (a whole plugin configuration) or `policy` (a policy document).
    pub kind: Option<&'static str>,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

#[derive(Debug, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
    /// The problem as `wsgate validate` prints it.
    pub text: String,
    pub span: Option<Span>,
}

pub fn check(text: &str) -> Checked {
    let problems = |found: Vec<ConfigError>| found.into_iter().map(|e| Problem { span: locate(text, &e.path), text: e.to_string(), path: e.path, message: e.message }).collect();
    match load(text.as_bytes(), &no_environment) {
        Ok((document, warnings)) => Checked { ok: true, kind: Some(kind(&document)), errors: Vec::new(), warnings: problems(warnings) },
        Err(errors) => Checked { ok: false, kind: None, errors: problems(errors), warnings: Vec::new() },
    }
}

fn kind(document: &Document) -> &'static str {
    match document {
        Document::Config(_) => "config",
        Document::Policy(_) => "policy",
    }
}

/// A caller and a request, as the page's form sends them.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Asked {
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub domain: Option<String>,
    pub via: Option<String>,
    pub provider: Option<String>,
    /// A token to verify instead of the caller above, at `time` (Unix seconds).
    pub token: Option<String>,
    pub time: Option<u64>,
    pub method: String,
    pub host: String,
    pub path: String,
}

/// The decision, and where its rule is in the text.
#[derive(Debug, Serialize)]
pub struct Answer {
    #[serde(flatten)]
    pub answered: Answered,
    pub rule_span: Option<Span>,
}

/// A caller described by hand is explained with the policy alone; a token by the
/// whole gate.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answered {
    Caller(Explanation),
    Token(TokenExplanation),
}

impl Answered {
    fn rule(&self) -> Option<&str> {
        match self {
            Answered::Caller(e) => e.decision.rule.as_deref(),
            Answered::Token(e) => e.decision.rule.as_deref(),
        }
    }
}

pub fn ask(text: &str, asked: &Asked) -> Result<Answer, String> {
    let document = loaded(text)?;
    let request = RequestLine { method: &asked.method, host: &asked.host, path: &asked.path };
    let answered = match (&asked.token, document) {
        (Some(token), Document::Config(settings)) => {
            let now_ms = asked.time.ok_or("a token is checked at a chosen time: give `time` (Unix seconds)")?.saturating_mul(1000);
            Answered::Token(explain_token(&mut Gate::new(*settings), token.trim(), &request, now_ms).map_err(|e| e.to_string())?)
        }
        (Some(_), Document::Policy(_)) => return Err("a token needs a whole plugin configuration (with `providers`) to verify it".to_owned()),
        (None, document) => {
            let email = asked.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
            let question = Question { email, groups: &asked.groups, domain: asked.domain.as_deref(), via: asked.via.as_deref(), provider: asked.provider.as_deref(), request };
            Answered::Caller(explain(document.policy(), &question).map_err(|e| e.to_string())?)
        }
    };
    let rule_span = answered.rule().and_then(|rule| rule_path(text, rule)).and_then(|path| locate(text, &path));
    Ok(Answer { answered, rule_span })
}

fn loaded(text: &str) -> Result<Document, String> {
    load(text.as_bytes(), &no_environment).map(|(document, _)| document).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("the configuration is invalid:\n{}", lines.join("\n"))
    })
}

/// The field path of the rule called `name` in the text (`policy.rules[3]`).
fn rule_path(text: &str, name: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let (base, rules) = match value.pointer("/policy/rules") {
        Some(rules) => ("policy.", rules),
        None => ("", value.get("rules")?),
    };
    let index = rules.as_array()?.iter().position(|rule| rule.get("name").and_then(Value::as_str) == Some(name))?;
    Some(format!("{base}rules[{index}]"))
}

/// A row of the matrix: a caller by email and the groups a token would claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `None`: anonymous.
    pub email: Option<String>,
    pub groups: Vec<String>,
}

/// One cell: what the policy decides for that caller and request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub outcome: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub rule: Option<String>,
    /// Set in a comparison: the other configuration decides this cell otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Box<Cell>>,
}

#[derive(Debug, Serialize)]
pub struct Matrix {
    pub rows: Vec<Row>,
    pub columns: Vec<SampleRequest>,
    pub cells: Vec<Vec<Cell>>,
    /// In a comparison: how many cells the change flips.
    pub flipped: usize,
}

/// Callers × requests. Rows are `callers` (one per line: an email, or `anonymous`,
/// then the groups its token claims) or else the directory's members; columns are
/// `requests` (`METHOD host path` per line) or else a request per rule.
pub fn matrix(text: &str, callers: &str, requests: &str) -> Result<Matrix, String> {
    let document = loaded(text)?;
    let policy = document.policy();
    let rows = rows_of(callers, &[policy])?;
    let columns = columns_of(requests, &[policy])?;
    let cells = decide_all(policy, &rows, &columns);
    Ok(Matrix { rows, columns, cells, flipped: 0 })
}

/// The matrix of `after`, each cell that `before` decides otherwise carrying
/// `before`'s answer. Rows and columns are both configurations' (or those typed).
pub fn compare(before: &str, after: &str, callers: &str, requests: &str) -> Result<Matrix, String> {
    let (old, new) = (loaded(before)?, loaded(after)?);
    let policies = [old.policy(), new.policy()];
    let rows = rows_of(callers, &policies)?;
    let columns = columns_of(requests, &policies)?;
    let previous = decide_all(old.policy(), &rows, &columns);
    let mut cells = decide_all(new.policy(), &rows, &columns);
    let mut flipped = 0;
    for (cell, old) in cells.iter_mut().flatten().zip(previous.into_iter().flatten()) {
        if cell.outcome != old.outcome {
            cell.before = Some(Box::new(old));
            flipped += 1;
        }
    }
    Ok(Matrix { rows, columns, cells, flipped })
}

fn decide_all(policy: &Policy, rows: &[Row], columns: &[SampleRequest]) -> Vec<Vec<Cell>> {
    rows.iter().map(|row| columns.iter().map(|column| decide(policy, row, column)).collect()).collect()
}

fn decide(policy: &Policy, row: &Row, column: &SampleRequest) -> Cell {
    let request = RequestLine { method: &column.method, host: &column.host, path: &column.path };
    let question = Question { email: row.email.as_deref(), groups: &row.groups, domain: None, via: None, provider: None, request };
    match explain(policy, &question) {
        Ok(answer) => Cell { outcome: answer.outcome, status: answer.decision.status, code: answer.decision.code, rule: answer.decision.rule, before: None },
        // Rows never name a `via`, so only the filter's 400s come here.
        Err(error) => {
            let reason = error.refusal().unwrap_or(Reason::AmbiguousPath);
            Cell { outcome: "deny", status: reason.status(), code: reason.code(), rule: None, before: None }
        }
    }
}

const MAX_LINES: usize = 1000;

fn rows_of(typed: &str, policies: &[&Policy]) -> Result<Vec<Row>, String> {
    let lines = lines_of(typed)?;
    if lines.is_empty() {
        let mut members: Vec<&str> = policies.iter().flat_map(|p| p.directory_members()).collect();
        members.sort_unstable();
        members.dedup();
        return Ok(members.into_iter().map(|email| Row { email: Some(email.to_owned()), groups: Vec::new() }).collect());
    }
    Ok(lines
        .iter()
        .map(|line| {
            let mut words = line.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty());
            let email = words.next().filter(|w| *w != "anonymous").map(str::to_owned);
            Row { email, groups: words.map(str::to_owned).collect() }
        })
        .collect())
}

fn columns_of(typed: &str, policies: &[&Policy]) -> Result<Vec<SampleRequest>, String> {
    let lines = lines_of(typed)?;
    if lines.is_empty() {
        let mut columns: Vec<SampleRequest> = Vec::new();
        for sample in policies.iter().flat_map(|p| sample_requests(p)) {
            if !columns.contains(&sample) {
                columns.push(sample);
            }
        }
        return Ok(columns);
    }
    lines
        .iter()
        .map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            [method, host, path] => Ok(SampleRequest { method: method.to_owned(), host: host.to_owned(), path: path.to_owned() }),
            _ => Err(format!("request `{line}`: write it as `METHOD host path`")),
        })
        .collect()
}

fn lines_of(typed: &str) -> Result<Vec<&str>, String> {
    let lines: Vec<&str> = typed.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    if lines.len() > MAX_LINES {
        return Err(format!("at most {MAX_LINES} callers or requests"));
    }
    Ok(lines)
}
