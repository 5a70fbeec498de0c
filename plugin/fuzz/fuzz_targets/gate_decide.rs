//! Whole decisions: a structured request (method, authority, path, a token from the
//! committed list, possibly mangled, in one of the token sources, more headers) through
//! `Gate::decide` with the shipped policies (admin-paths, multi-service-gateway,
//! rollout-dry-run) and a shorthand one, each with `strip_token` off and on.
//!
//! Never panics, and: a request is forwarded exactly when the reason admits it; a
//! refusal is a well-formed local response (status, JSON body naming the reason, header
//! values without control characters); identity headers are set only for a verified
//! caller, whose token is one of the committed valid ones; nothing else is set or
//! removed unless `strip_token` asks; the log line is JSON; a gate with a token cache
//! decides exactly as one without, also when the answer comes from the cache.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use wsgate_core::extract::find_token;
use wsgate_core::{Action, Gate, Reason, RequestSnapshot, Verdict};
use wsgate_fuzz::*;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get", "Post", ""];
const AUTHORITIES: &[&str] = &[
    "billing-7hx2k-uc.a.run.app",
    "billing.example.com",
    "BILLING.example.com",
    "billing.example.com:443",
    "billing.example.com.",
    "hr-7hx2k-uc.a.run.app",
    "tools.internal.example.com",
    "a.b.internal.example.com",
    "internal.example.com",
    "hello-abc123-uc.a.run.app",
    "example.com",
    "",
];
const PATHS: &[&str] = &[
    "/", "/admin", "/admin/", "/admin/users", "/administrator", "/ADMIN", "/app", "/app/reports", "/api", "/api/admin",
    "/api/admin/users", "/employees/42/salary", "/employees/42/salary/", "/employees//salary", "/ledger", "/ledger/2030",
    "/healthz", "/healthz/live", "/healthzz", "/%61dmin", "/app/../admin", "//admin", "/admin?x=1", "/admin#f",
    "/api/./admin", "/api/admin%2fusers", "/app/%2e%2e/admin", "*", "",
];
const HEADER_NAMES: &[&str] = &[
    "authorization", "x-serverless-authorization", "x-goog-iap-jwt-assertion", "cookie", "x-workspace-email",
    "x-workspace-subject", "x-workspace-domain", "x-workspace-groups", "x-request-id", ":path", ":authority", ":method",
    "host", "x-wsgate-decision",
];

#[derive(Arbitrary, Debug)]
enum Text {
    Known(u8),
    Raw(Vec<u8>),
}

impl Text {
    fn pick(&self, known: &[&str]) -> Vec<u8> {
        match self {
            Text::Known(i) => known[usize::from(*i) % known.len()].as_bytes().to_vec(),
            Text::Raw(bytes) => bytes.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Token {
    None,
    Known(u8),
    /// A committed token with one byte replaced.
    Mangled { index: u8, at: u16, byte: u8 },
    /// A committed token cut short, or with bytes appended.
    Cut { index: u8, keep: u16, tail: Vec<u8> },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    policy: u8,
    strip_token: bool,
    method: Text,
    authority: Text,
    path: Text,
    token: Token,
    /// Where the token goes (see `place_token`).
    place: u8,
    headers: Vec<(Text, Vec<u8>)>,
    /// A second decision, without the cache, this many seconds after NOW.
    later: u16,
}

struct Fixture {
    /// Per policy: [strip off, strip on] × [no cache, cache].
    gates: Vec<[[Gate; 2]; 2]>,
    tokens: Vec<KnownToken>,
    /// The committed tokens that verify at NOW, and all of them (any may verify later).
    valid: HashSet<Vec<u8>>,
    all: HashSet<Vec<u8>>,
    identity_headers: [&'static str; 4],
}

fn fixture() -> Fixture {
    let gates = policies()
        .into_iter()
        .map(|(_, policy)| {
            let make = |strip: bool, cache: usize| {
                let mut config = config(policy.clone());
                config["strip_token"] = strip.into();
                config["token_cache_entries"] = cache.into();
                gate(&config)
            };
            [[make(false, 0), make(false, 4096)], [make(true, 0), make(true, 4096)]]
        })
        .collect();
    let tokens = known_tokens();
    let valid = tokens.iter().filter(|t| t.valid).map(|t| t.token.as_bytes().to_vec()).collect();
    let all = tokens.iter().map(|t| t.token.as_bytes().to_vec()).collect();
    Fixture { gates, tokens, valid, all, identity_headers: ["x-workspace-email", "x-workspace-subject", "x-workspace-domain", "x-workspace-groups"] }
}

thread_local! {
    static FIXTURE: std::cell::RefCell<Fixture> = std::cell::RefCell::new(fixture());
}

fn token_bytes(tokens: &[KnownToken], token: &Token) -> Option<Vec<u8>> {
    let known = |i: u8| tokens.get(usize::from(i) % tokens.len().max(1)).map(|t| t.token.as_bytes().to_vec());
    match token {
        Token::None => None,
        Token::Known(i) => known(*i),
        Token::Mangled { index, at, byte } => known(*index).map(|mut t| {
            let at = usize::from(*at) % t.len().max(1);
            if let Some(b) = t.get_mut(at) {
                *b = *byte;
            }
            t
        }),
        Token::Cut { index, keep, tail } => known(*index).map(|mut t| {
            t.truncate(usize::from(*keep));
            t.extend_from_slice(tail);
            t
        }),
        Token::Raw(bytes) => Some(bytes.clone()),
    }
}

fn place_token(request: RequestSnapshot, place: u8, token: &[u8]) -> RequestSnapshot {
    let join = |a: &[u8], b: &[u8], c: &[u8]| [a, b, c].concat();
    match place % 8 {
        0 => request.with_header("authorization", join(b"Bearer ", token, b"")),
        1 => request.with_header("authorization", join(b"bearer  ", token, b" ")),
        2 => request.with_header("x-serverless-authorization", join(b"Bearer ", token, b"")),
        3 => request.with_header("x-goog-iap-jwt-assertion", token),
        4 => request.with_header("cookie", join(b"GCP_IAP_AUTH_TOKEN=", token, b"")),
        5 => request.with_header("cookie", join(b"a=b; GCP_IAP_AUTH_TOKEN=\"", token, b"\"; c=d")),
        6 => request.with_header("authorization", "Basic dXNlcjpwYXNz").with_header("x-serverless-authorization", join(b"Bearer ", token, b"")),
        _ => request.with_header("authorization", token),
    }
}

fuzz_target!(|input: Input| {
    FIXTURE.with(|f| {
        let f = &mut *f.borrow_mut();
        let token = token_bytes(&f.tokens, &input.token);
        let mut request = RequestSnapshot::default()
            .with_header_bytes(":method", input.method.pick(METHODS))
            .with_header_bytes(":authority", input.authority.pick(AUTHORITIES))
            .with_header_bytes(":path", input.path.pick(PATHS));
        if let Some(token) = &token {
            request = place_token(request, input.place, token);
        }
        for (name, value) in input.headers.iter().take(8) {
            let name = String::from_utf8_lossy(&name.pick(HEADER_NAMES)).into_owned();
            request = request.with_header_bytes(&name, value.clone());
        }
        let policy = usize::from(input.policy) % f.gates.len();
        let strip = input.strip_token;
        let [plain, cached] = &mut f.gates[policy][usize::from(strip)];

        let verdict = plain.decide(&request, NOW * 1000);
        check(plain, &request, &verdict, strip, &f.valid, &f.identity_headers);
        for _ in 0..2 {
            let again = cached.decide(&request, NOW * 1000);
            assert_eq!(again.reason, verdict.reason, "the cached gate decides otherwise");
            assert_eq!(again.action, verdict.action, "the cached gate acts otherwise");
            assert_eq!(again.rule, verdict.rule, "the cached gate names another rule");
        }
        let later = plain.decide(&request, (NOW + u64::from(input.later)) * 1000);
        check(plain, &request, &later, strip, &f.all, &f.identity_headers);
    })
});

fn check(gate: &Gate, request: &RequestSnapshot, verdict: &Verdict, strip: bool, valid: &HashSet<Vec<u8>>, identity_headers: &[&str; 4]) {
    let reason = verdict.reason;
    if let Some(verified) = &verdict.verified {
        assert!(verified.identity.provider < 2, "identity from provider {}", verified.identity.provider);
        // A caller is verified only by a committed token (valid at NOW, when decided at
        // NOW), found through a source: no mangled token verifies.
        let found = find_token(&gate.settings().token_sources, request).ok().flatten().unwrap_or_else(|| panic!("verified without a (single) token"));
        assert!(valid.contains(&found.token), "verified by a token that is not a committed one (valid at NOW, if decided then): {:?}", String::from_utf8_lossy(&found.token));
    }
    match (&verdict.action, reason.admits()) {
        (Action::Forward { set, remove }, true) => {
            for (name, value) in set {
                if identity_headers.contains(&name.as_str()) {
                    assert!(verdict.verified.is_some(), "identity header {name} set for an anonymous caller ({reason:?})");
                    assert!(value.iter().all(|&b| b >= 0x20 && b != 0x7f), "identity header {name} carries control bytes");
                } else {
                    assert!(strip && name == "cookie", "forwarding sets {name:?} (strip_token {strip})");
                }
            }
            for name in remove {
                assert!(strip, "forwarding removes {name:?} without strip_token");
                assert!(["authorization", "x-serverless-authorization", "x-goog-iap-jwt-assertion", "cookie"].contains(&name.as_str()), "removes {name:?}");
            }
        }
        (Action::Respond(response), false) => {
            assert!(matches!(response.status, 400 | 401 | 403 | 503), "refused with status {}", response.status);
            let body: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_else(|e| panic!("refusal body is not JSON: {e}"));
            assert_eq!(body["error"], reason.code(), "refusal body names another reason");
            for (name, value) in &response.headers {
                assert!(value.bytes().all(|b| b >= 0x20 && b != 0x7f), "response header {name} carries control bytes: {value:?}");
            }
        }
        (action, admits) => panic!("reason {reason:?} (admits: {admits}) with action {action:?}"),
    }
    match reason {
        Reason::Allowed => assert!(verdict.verified.is_some(), "allowed without a verified caller"),
        Reason::PublicPath => assert!(verdict.verified.is_none(), "public_path for a verified caller"),
        _ => {}
    }
    if let Some(line) = &verdict.log_line {
        let record: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("log line is not JSON: {e}: {line}"));
        assert_eq!(record["reason"], reason.code(), "log line names another reason");
        assert!(!line.contains('\n'), "log line spans lines");
    }
}
