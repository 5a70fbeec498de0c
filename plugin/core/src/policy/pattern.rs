//! Host, path and method matching, and the request shape they match against.

use std::fmt;

/// The parts of a request a rule can match on, normalised once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestShape {
    /// Lower case, port removed.
    pub host: String,
    /// Without query or fragment; always a plain path (see [`RequestShape::new`]).
    pub path: String,
    pub method: Method,
}

/// Why a request cannot be matched safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmbiguousPath;

impl RequestShape {
    /// Refuses paths the upstream might read as another path: dot segments,
    /// backslashes, encoded `.` `/` `\`, control or non-ASCII bytes. A policy about
    /// `/admin` must not be bypassed by `/public/../admin`. Envoy's `normalize_path`
    /// removes most of these before the filter sees them.
    pub fn new(authority: &[u8], path: &[u8], method: &[u8]) -> Result<Self, AmbiguousPath> {
        let path = strip_query(path);
        if !is_plain_path(path) {
            return Err(AmbiguousPath);
        }
        Ok(Self {
            host: host_of(authority),
            path: String::from_utf8_lossy(path).into_owned(),
            method: Method::parse(method),
        })
    }
}

fn strip_query(path: &[u8]) -> &[u8] {
    let end = path.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(path.len());
    &path[..end]
}

fn is_plain_path(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') || path.iter().any(|&b| b == b'\\' || b.is_ascii_control() || b >= 0x80) {
        return false;
    }
    let encoded_separator = path.windows(3).any(|w| {
        w[0] == b'%' && matches!((w[1], w[2].to_ascii_lowercase()), (b'2', b'e' | b'f') | (b'5', b'c'))
    });
    let dot_segment = path.split(|&b| b == b'/').any(|segment| segment == b"." || segment == b"..");
    !encoded_separator && !dot_segment
}

fn host_of(authority: &[u8]) -> String {
    let text = String::from_utf8_lossy(authority).to_ascii_lowercase();
    // `[::1]:8080` keeps its brackets; `host:port` loses the port.
    match text.rfind(':') {
        Some(colon) if !text[colon..].contains(']') => text[..colon].to_owned(),
        _ => text,
    }
}

/// The first segment of a path, the key rules are indexed by (`/users/7` → `users`).
pub fn first_segment(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

/// An HTTP method. The standard ones are bits so a rule's method set is one integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method(u16);

const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];

impl Method {
    /// A method no rule can name; it matches only rules without a method condition.
    pub const OTHER: Method = Method(0);

    pub fn parse(bytes: &[u8]) -> Method {
        METHODS
            .iter()
            .position(|m| m.as_bytes() == bytes)
            .map_or(Method::OTHER, |i| Method(1 << i))
    }

    pub fn from_name(name: &str) -> Option<Method> {
        METHODS.iter().position(|m| *m == name).map(|i| Method(1 << i))
    }
}

/// A set of methods; empty means any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MethodSet(u16);

impl MethodSet {
    pub fn insert(&mut self, method: Method) {
        self.0 |= method.0;
    }

    pub fn matches(self, method: Method) -> bool {
        self.0 == 0 || self.0 & method.0 != 0
    }

    /// Whether every method this set matches, `other` matches too.
    pub fn within(self, other: MethodSet) -> bool {
        other.0 == 0 || (self.0 != 0 && self.0 & !other.0 == 0)
    }
}

/// A host condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// `*.example.com` is stored as `example.com` and matches any subdomain of it,
    /// not `example.com` itself.
    Subdomain(String),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let lower = text.to_ascii_lowercase();
        let valid = |host: &str| {
            !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        };
        match lower.strip_prefix("*.") {
            Some(suffix) if valid(suffix) => Ok(HostPattern::Subdomain(suffix.to_owned())),
            None if valid(&lower) => Ok(HostPattern::Exact(lower)),
            _ => Err(format!("`{text}` is not a host name or `*.domain`")),
        }
    }

    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::Subdomain(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        }
    }

    /// Whether every host this pattern matches, `other` matches too.
    pub fn within(&self, other: &HostPattern) -> bool {
        match (self, other) {
            (HostPattern::Exact(host), _) => other.matches(host),
            (HostPattern::Subdomain(mine), HostPattern::Subdomain(theirs)) => {
                mine == theirs || HostPattern::Subdomain(theirs.clone()).matches(mine)
            }
            (HostPattern::Subdomain(_), HostPattern::Exact(_)) => false,
        }
    }
}

/// A path condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    Exact(String),
    /// Whole segments; stored without a trailing slash (`/` is the empty prefix).
    Prefix(String),
    /// Segments; `None` is a `{variable}` matching one non-empty segment.
    Template(Vec<Option<String>>),
}

impl PathPattern {
    pub fn exact(path: &str) -> Result<PathPattern, String> {
        check_plain(path)?;
        Ok(PathPattern::Exact(path.to_owned()))
    }

    pub fn prefix(path: &str) -> Result<PathPattern, String> {
        check_plain(path)?;
        Ok(PathPattern::Prefix(path.trim_end_matches('/').to_owned()))
    }

    pub fn template(path: &str) -> Result<PathPattern, String> {
        check_plain(path.replace(['{', '}'], "").as_str())?;
        let segments = path[1..]
            .split('/')
            .map(|segment| match (segment.find('{'), segment.find('}')) {
                (None, None) => Ok(Some(segment.to_owned())),
                (Some(0), Some(end)) if end == segment.len() - 1 && end > 1 => Ok(None),
                (Some(_), None) => Err("template has an unclosed '{'".to_owned()),
                _ => Err(format!("segment `{segment}`: a variable must be a whole segment like `{{id}}`")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PathPattern::Template(segments))
    }

    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Exact(exact) => path == exact,
            PathPattern::Prefix(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            PathPattern::Template(segments) => {
                let mut parts = path[1.min(path.len())..].split('/');
                segments.iter().all(|want| match (want, parts.next()) {
                    (Some(literal), Some(part)) => literal == part,
                    (None, Some(part)) => !part.is_empty(),
                    (_, None) => false,
                }) && parts.next().is_none()
            }
        }
    }

    /// The literal first segment every matching path starts with, if there is one.
    pub fn index_key(&self) -> Option<&str> {
        match self {
            PathPattern::Exact(path) => Some(first_segment(path)),
            PathPattern::Prefix(prefix) if prefix.is_empty() => None,
            PathPattern::Prefix(prefix) => Some(first_segment(prefix)),
            PathPattern::Template(segments) => segments.first().and_then(|s| s.as_deref()),
        }
    }

    /// Whether every path this pattern matches, `other` matches too (conservative:
    /// `false` when unsure).
    pub fn within(&self, other: &PathPattern) -> bool {
        match (self, other) {
            (PathPattern::Exact(path), _) => other.matches(path),
            (PathPattern::Prefix(mine), PathPattern::Prefix(theirs)) => prefix_within(mine, theirs),
            (PathPattern::Template(segments), PathPattern::Prefix(theirs)) => {
                let literal: Vec<&str> = segments.iter().map_while(|s| s.as_deref()).collect();
                let mine = if literal.is_empty() { String::new() } else { format!("/{}", literal.join("/")) };
                prefix_within(&mine, theirs)
            }
            (mine, theirs) => mine == theirs,
        }
    }
}

/// Prefixes are stored without a trailing slash; the empty prefix is `/`.
fn prefix_within(mine: &str, theirs: &str) -> bool {
    theirs.is_empty() || mine == theirs || mine.strip_prefix(theirs).is_some_and(|rest| rest.starts_with('/'))
}

fn check_plain(path: &str) -> Result<(), String> {
    let plain = path.starts_with('/')
        && !path.contains("//")
        && !path.contains(['?', '#', '*', '\\', '%'])
        && is_plain_path(path.as_bytes());
    if plain { Ok(()) } else { Err(format!("`{path}` must be a plain path starting with `/` (no `?`, `#`, `*`, `%`, `\\`, `//` or dot segments)")) }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathPattern::Exact(p) => write!(f, "exact {p}"),
            PathPattern::Prefix(p) => write!(f, "prefix {}", if p.is_empty() { "/" } else { p }),
            PathPattern::Template(segments) => {
                let parts: Vec<&str> = segments.iter().map(|s| s.as_deref().unwrap_or("{}")).collect();
                write!(f, "template /{}", parts.join("/"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(authority: &str, path: &str) -> Result<RequestShape, AmbiguousPath> {
        RequestShape::new(authority.as_bytes(), path.as_bytes(), b"GET")
    }

    #[test]
    fn hosts_lose_their_port_and_case() {
        assert_eq!(shape("API.Example.com:8443", "/").unwrap().host, "api.example.com");
        assert_eq!(shape("[::1]", "/").unwrap().host, "[::1]");
    }

    #[test]
    fn paths_that_could_normalise_elsewhere_are_ambiguous() {
        for path in ["/a/../admin", "/a/%2e%2e/admin", "/a/..%2Fadmin", "/a\\..\\admin", "/a/./x", "a", "/caf\u{e9}"] {
            assert_eq!(shape("h", path), Err(AmbiguousPath), "{path}");
        }
        assert_eq!(shape("h", "/a/b?x=../y").unwrap().path, "/a/b");
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let prefix = PathPattern::prefix("/admin/").unwrap();
        assert!(prefix.matches("/admin") && prefix.matches("/admin/users"));
        assert!(!prefix.matches("/administer"));
        assert!(PathPattern::prefix("/").unwrap().matches("/anything"));
    }

    #[test]
    fn templates_match_one_segment_per_variable() {
        let template = PathPattern::template("/users/{id}/reports").unwrap();
        assert!(template.matches("/users/42/reports"));
        assert!(!template.matches("/users//reports"));
        assert!(!template.matches("/users/42/reports/2024"));
        assert!(!template.matches("/users/42"));
        assert_eq!(PathPattern::template("/users/{id/reports").unwrap_err(), "template has an unclosed '{'");
        assert!(PathPattern::template("/users/x{id}").is_err());
    }

    #[test]
    fn subdomain_hosts_need_a_subdomain() {
        let pattern = HostPattern::parse("*.run.app").unwrap();
        assert!(pattern.matches("hello-abc.a.run.app"));
        assert!(!pattern.matches("run.app") && !pattern.matches("evilrun.app"));
        assert!(HostPattern::parse("*").is_err() && HostPattern::parse("a b").is_err());
    }

    #[test]
    fn methods_outside_the_standard_set_match_only_rules_without_methods() {
        let mut set = MethodSet::default();
        assert!(set.matches(Method::OTHER));
        set.insert(Method::from_name("GET").unwrap());
        assert!(set.matches(Method::parse(b"GET")) && !set.matches(Method::parse(b"POST")));
        assert!(!set.matches(Method::parse(b"PURGE")));
    }
}
