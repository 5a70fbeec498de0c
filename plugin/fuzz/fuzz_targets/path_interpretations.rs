//! Path canonicalisation against the upstreams that route it: for any request path the
//! gate admits, the path each modelled framework would route (Tomcat, Spring, Express
//! non-strict, Rails, ASP.NET Core, Go's ServeMux) must be admitted too when read as a
//! plain path. A deny must never turn into an allow because an upstream reads the
//! bytes another way. The models are written here, independently of the core's
//! readings, from each framework's documented routing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use wsgate_core::policy::Policy;
use wsgate_core::policy::compile::compile;
use wsgate_core::policy::pattern::{PathReading, RequestShape};
use wsgate_core::policy::subjects::Caller;
use wsgate_core::policy_config::{Effect, PolicyConfig};

fn policy() -> Policy {
    let document = json!({
        "rules": [
            {"name": "health", "match": {"paths": [{"exact": "/healthz"}]}, "effect": "allow", "subjects": {"anonymous": true}},
            {"name": "docs", "match": {"paths": [{"prefix": "/docs"}]}, "effect": "allow", "subjects": {"anonymous": true}},
            {"name": "staff-app", "match": {"paths": [{"prefix": "/app"}, {"prefix": "/api"}]}, "effect": "allow", "subjects": {"domains": ["example.com"]}},
            {"name": "admin-writes", "match": {"paths": [{"prefix": "/api/admin"}]}, "effect": "deny", "subjects": {"users": ["intern@example.com"]}},
            {"name": "docs-drafts", "match": {"paths": [{"prefix": "/docs/drafts"}]}, "effect": "deny", "subjects": {"anonymous": true}},
            {"name": "salary", "match": {"paths": [{"template": "/api/employees/{id}/salary"}]}, "effect": "deny", "subjects": {"authenticated": true}},
            {"name": "Reports", "match": {"paths": [{"exact": "/api/Reports/Q3"}]}, "effect": "deny", "subjects": {"authenticated": true}}
        ]
    });
    let config: PolicyConfig = serde_json::from_value(document).expect("the policy parses");
    compile(&config, "").0.expect("the policy compiles")
}

thread_local! {
    static POLICY: Policy = policy();
}

fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes.get(at + 1..at + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn without_query(raw: &[u8]) -> &[u8] {
    &raw[..raw.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(raw.len())]
}

/// `.` and `..` resolved as RFC 3986 §5.2.4 does.
fn resolve_dots(segments: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for segment in segments {
        match segment.as_str() {
            "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(segment),
        }
    }
    out
}

fn join(segments: &[String]) -> String {
    format!("/{}", segments.join("/"))
}

fn merge_slashes(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", segments.join("/"))
}

/// Tomcat: `;parameters` cut from each raw segment, then decoded, then dot segments.
fn tomcat(raw: &[u8]) -> String {
    let segments: Vec<String> = raw.split(|&b| b == b'/').skip(1).map(|s| {
        let name = s.split(|&b| b == b';').next().unwrap_or(b"");
        text(&percent_decode(name))
    }).collect();
    join(&resolve_dots(segments))
}

/// Spring's UrlPathHelper: decoded, then `;…` removed from every segment, `//` merged.
fn spring(raw: &[u8]) -> String {
    let decoded = text(&percent_decode(raw));
    let segments: Vec<&str> = decoded.split('/').map(|s| s.split(';').next().unwrap_or("")).collect();
    merge_slashes(&segments.join("/"))
}

/// Express with `strict` and `caseSensitive` off (its defaults): decoded, one trailing
/// slash ignored, case ignored.
fn express(raw: &[u8]) -> String {
    let decoded = text(&percent_decode(raw)).to_ascii_lowercase();
    match decoded.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed.to_owned(),
        _ => decoded,
    }
}

/// Rails: decoded, `//` merged, trailing slash ignored.
fn rails(raw: &[u8]) -> String {
    merge_slashes(&text(&percent_decode(raw)))
}

/// ASP.NET Core: decoded, case-insensitive, `//` merged.
fn aspnet(raw: &[u8]) -> String {
    merge_slashes(&text(&percent_decode(raw))).to_ascii_lowercase()
}

/// Go's ServeMux: decoded; unclean paths are redirected, so only clean ones route.
fn go(raw: &[u8]) -> Option<String> {
    let decoded = text(&percent_decode(raw));
    let clean = decoded.split('/').all(|s| s != "." && s != "..") && !decoded[1.min(decoded.len())..].contains("//");
    clean.then_some(decoded)
}

fn caller(policy: &Policy, who: u8) -> Caller {
    match who % 4 {
        0 => Caller::anonymous(),
        1 => policy.caller(Some("intern@example.com"), Some("example.com"), &[]),
        2 => policy.caller(Some("alice@example.com"), Some("example.com"), &[]),
        _ => policy.caller(Some("eve@other.example"), Some("other.example"), &[]),
    }
}

/// The policy's answer for `path` read as one plain path, as a framework hands it to
/// its router (`fold_case`: a router that ignores case compares patterns that way too).
fn routed_effect(policy: &Policy, path: &str, fold_case: bool, caller: &Caller) -> Option<Effect> {
    let mut shape = RequestShape::new(b"svc", path.as_bytes(), b"POST").ok()?;
    shape.readings = vec![PathReading { path: path.to_owned(), canonical: false, fold_case }];
    Some(policy.evaluate(&shape, caller).effect)
}

fuzz_target!(|data: &[u8]| {
    let Some((&who, raw)) = data.split_first() else { return };
    if raw.len() > 512 {
        return;
    }
    POLICY.with(|policy| {
        let caller = caller(policy, who);
        let Ok(shape) = RequestShape::new(b"svc", raw, b"POST") else { return };
        if policy.evaluate(&shape, &caller).effect != Effect::Allow {
            return;
        }
        let path = without_query(raw);
        let routed = [
            ("tomcat", Some(tomcat(path)), false),
            ("spring", Some(spring(path)), false),
            ("express", Some(express(path)), true),
            ("rails", Some(rails(path)), false),
            ("aspnet", Some(aspnet(path)), true),
            ("go", go(path), false),
        ];
        for (framework, routed, fold_case) in routed {
            let Some(routed) = routed else { continue };
            if routed_effect(policy, &routed, fold_case, &caller) == Some(Effect::Deny) {
                panic!("{:?} is admitted, but {framework} routes it to {routed:?}, which the policy denies", text(raw));
            }
        }
    });
});
