//! The playground's questions, answered by wsgate-core exactly as the filter and
//! `wsgate validate`/`explain` answer them; JSON in, JSON out, so the browser layer
//! ([`crate`]'s exports) only passes strings.

use crate::locate::{Span, locate, syntax_error_span};
use serde::{Deserialize, Serialize};
use wsgate_core::Gate;
use wsgate_core::diagnostics::ConfigError;
use wsgate_core::document::{Document, load};
use wsgate_core::explain::{Explanation, Question, RequestLine, TokenExplanation, explain, explain_token};
use wsgate_core::policy::Policy;
use wsgate_core::policy::samples::{SampleRequest, sample_requests};
// The browser has no VM environment: a configuration whose sign-in names secrets is
// refused for want of them, as `wsgate validate` refuses it without them.
use wsgate_core::session::setup::no_environment;

/// A configuration's problems, each with its place in the text.
#[derive(Debug, Serialize)]
pub struct Checked {
    pub ok: bool,
    /// `config` (a whole plugin configuration) or `policy` (a policy document).
    pub kind: Option<&'static str>,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// An error or a warning.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// The field path (`policy.rules[2].effect`); empty for the document itself.
    pub path: String,
    pub message: String,
    /// The problem as `wsgate validate` prints it.
    pub text: String,
    /// Where the field is in the text (a syntax error: the character it is at).
    pub span: Option<Span>,
}

impl Problem {
    fn found(text: &str, error: ConfigError) -> Problem {
        // A syntax error's path ends where the parser lost its way (`rules[1].?`);
        // its line and column say exactly where.
        let syntax = error.path.is_empty() || error.path.ends_with('?');
        let span = match syntax {
            true => syntax_error_span(text, &error.message).or_else(|| locate(text, &error.path)),
            false => locate(text, &error.path),
        };
        Problem { span, text: error.to_string(), path: error.path, message: error.message }
    }
}

pub fn check(text: &str) -> Checked {
    let problems = |found: Vec<ConfigError>| found.into_iter().map(|error| Problem::found(text, error)).collect();
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
    let base = document.policy_base();
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
    let rule_span = answered.rule().and_then(|rule| locate(text, &rule_path(base, rule)));
    Ok(Answer { answered, rule_span })
}

fn loaded(text: &str) -> Result<Document, String> {
    load(text.as_bytes(), &no_environment).map(|(document, _)| document).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("the configuration is invalid:\n{}", lines.join("\n"))
    })
}

/// The field path of the rule called `name` (`policy.rules.NAME`, found by its name
/// as warnings are); the shorthands are rules of their own names (`public_paths`,
/// `allow`), which `rules` may not use.
fn rule_path(base: &str, name: &str) -> String {
    match name {
        "public_paths" | "allow" => format!("{base}{name}"),
        _ => format!("{base}rules.{name}"),
    }
}

/// A row of the matrix: a caller as a token would describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `None`: anonymous.
    pub email: Option<String>,
    /// The groups its token claims (the directory adds its own).
    pub groups: Vec<String>,
    /// Its `hd`; `None`: the email's domain.
    pub domain: Option<String>,
    /// The named caller (`callers[].name`) it comes through; `None`: directly.
    pub via: Option<String>,
    /// The provider that verified it, for rules with `match.providers`.
    pub provider: Option<String>,
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
/// then the groups its token claims and `provider=`, `via=`, `domain=`) or else the
/// directory's members and an anonymous caller; columns are `requests` (`METHOD host
/// path` per line) or else a request per rule.
pub fn matrix(text: &str, callers: &str, requests: &str) -> Result<Matrix, String> {
    let document = loaded(text)?;
    let policy = document.policy();
    let rows = rows_of(callers, &[policy])?;
    let columns = columns_of(requests, &[policy])?;
    within_size(&rows, &columns)?;
    let cells = decide_all(policy, &rows, &columns);
    Ok(Matrix { rows, columns, cells, flipped: 0 })
}

/// The matrix of `after`, each cell that `before` decides otherwise carrying
/// `before`'s answer. Rows and columns are both configurations' (or those typed).
pub fn compare(before: &str, after: &str, callers: &str, requests: &str) -> Result<Matrix, String> {
    let old = loaded(before)?;
    let new = loaded(after).map_err(|e| format!("the proposed change: {e}"))?;
    let policies = [old.policy(), new.policy()];
    let rows = rows_of(callers, &policies)?;
    let columns = columns_of(requests, &policies)?;
    within_size(&rows, &columns)?;
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
    let question = Question { email: row.email.as_deref(), groups: &row.groups, domain: row.domain.as_deref(), via: row.via.as_deref(), provider: row.provider.as_deref(), request };
    match explain(policy, &question) {
        Ok(answer) => Cell { outcome: answer.outcome, status: answer.decision.status, code: answer.decision.code, rule: answer.decision.rule, before: None },
        Err(error) => match error.refusal() {
            Some(reason) => Cell { outcome: "deny", status: reason.status(), code: reason.code(), rule: None, before: None },
            // A `via` the policy does not name: no request comes through it.
            None => Cell { outcome: "deny", status: 0, code: "unknown_caller", rule: None, before: None },
        },
    }
}

const MAX_LINES: usize = 1000;
/// A bigger matrix is no longer read by a person, and would hold the page up.
const MAX_CELLS: usize = 40_000;

/// The rows: typed (see [`row_of`]), or the directory's members and an anonymous caller.
fn rows_of(typed: &str, policies: &[&Policy]) -> Result<Vec<Row>, String> {
    let lines = lines_of(typed)?;
    if !lines.is_empty() {
        return lines.iter().map(|line| row_of(line)).collect();
    }
    let mut members: Vec<&str> = policies.iter().flat_map(|p| p.directory_members()).collect();
    members.sort_unstable();
    members.dedup();
    let mut rows: Vec<Row> = members.into_iter().map(|email| Row { email: Some(email.to_owned()), ..Row::default() }).collect();
    rows.push(Row::default());
    Ok(rows)
}

/// `email group,group provider=NAME via=NAME domain=DOMAIN`, or `anonymous`.
fn row_of(line: &str) -> Result<Row, String> {
    let mut words = line.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty());
    let mut row = Row { email: words.next().filter(|w| *w != "anonymous").map(str::to_owned), ..Row::default() };
    for word in words {
        match word.split_once('=') {
            Some(("provider", name)) => row.provider = Some(name.to_owned()),
            Some(("via", name)) => row.via = Some(name.to_owned()),
            Some(("domain", name)) => row.domain = Some(name.to_owned()),
            Some((other, _)) => return Err(format!("caller `{line}`: `{other}=` is not one of provider=, via=, domain=")),
            None => row.groups.push(word.to_owned()),
        }
    }
    Ok(row)
}

fn within_size(rows: &[Row], columns: &[SampleRequest]) -> Result<(), String> {
    match rows.len().saturating_mul(columns.len()) {
        cells if cells > MAX_CELLS => Err(format!("{} callers × {} requests is {cells} cells, more than {MAX_CELLS}: type the callers or requests to look at", rows.len(), columns.len())),
        _ => Ok(()),
    }
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
