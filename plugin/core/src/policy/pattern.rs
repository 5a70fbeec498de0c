//! Host, path and method matching, and the request shape they match against.

pub use crate::policy::path::{AmbiguousPath, PathReading};
use crate::policy::path::readings;
use std::fmt;

/// The parts of a request a rule can match on, normalised once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestShape {
    /// Lower case, port and trailing dot removed.
    pub host: String,
    /// The canonical reading of the path, as explanations show it.
    pub path: String,
    /// Every distinct way an upstream may read the path (see [`crate::policy::path`]).
    pub readings: Vec<PathReading>,
    /// Every method an upstream may route the request as, the one sent first (see
    /// [`Method::readings`]).
    pub methods: Vec<Method>,
}

/// Why a request's host or path cannot be matched safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatchable {
    Path,
    Host,
}

impl From<AmbiguousPath> for Unmatchable {
    fn from(_: AmbiguousPath) -> Self {
        Unmatchable::Path
    }
}

impl RequestShape {
    /// Refuses paths upstreams read in ways no rule can follow (see
    /// [`crate::policy::path`]): a policy about `/admin` must not be bypassed by
    /// `/public/../admin`. Envoy's `normalize_path` removes some of these before the
    /// filter sees them.
    pub fn new(authority: &[u8], path: &[u8], method: &[u8]) -> Result<Self, AmbiguousPath> {
        Self::read(authority, path, method, &[]).map_err(|_| AmbiguousPath)
    }

    /// Like [`RequestShape::new`], with the values of the request's method-override
    /// headers (which Express's method-override, Symfony and Google's APIs route by),
    /// and saying whether the host or the path failed.
    pub fn read(authority: &[u8], path: &[u8], method: &[u8], method_overrides: &[&[u8]]) -> Result<Self, Unmatchable> {
        let readings = readings(path)?;
        let host = host_of(authority).ok_or(Unmatchable::Host)?;
        let canonical = readings.iter().find(|r| r.canonical).unwrap_or(&readings[0]).path.clone();
        let mut methods = Method::readings(method);
        for extra in method_overrides.iter().flat_map(|value| Method::readings(value.trim_ascii())) {
            if !methods.contains(&extra) {
                methods.push(extra);
            }
        }
        Ok(Self { host, path: canonical, readings, methods })
    }
}

/// Hosts compare in lower case without port or trailing dot: `API.example.com.:443`
/// reaches the same virtual host as `api.example.com` in Envoy (with
/// `strip_trailing_host_dot`) and in DNS. Anything but a host name, an IPv4 address or
/// a bracketed IPv6 address, with an optional port, is refused: a malformed authority
/// (`h..`, `u@h`, `h:1:`, `h%2e`) is read differently by every hop.
fn host_of(authority: &[u8]) -> Option<String> {
    const MAX_AUTHORITY: usize = 260;
    if authority.len() > MAX_AUTHORITY || !authority.is_ascii() {
        return None;
    }
    let text = String::from_utf8_lossy(authority).to_ascii_lowercase();
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (inside, after) = rest.split_once(']')?;
            let valid = !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            (valid.then(|| format!("[{inside}]"))?, after.strip_prefix(':').map_or(Some(after), Some)?)
        }
        None => match text.split_once(':') {
            Some((host, port)) => (host.to_owned(), port),
            None => (text.clone(), ""),
        },
    };
    if !port.bytes().all(|b| b.is_ascii_digit()) || (text.contains(':') && !text.starts_with('[') && port.is_empty()) {
        return None;
    }
    let host = host.strip_suffix('.').map_or(host.clone(), str::to_owned);
    let label_ok = |label: &str| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (host.starts_with('[') || host.is_empty() || host.split('.').all(label_ok)).then_some(host)
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
    pub const GET: Method = Method(1);
    pub const HEAD: Method = Method(2);

    /// Every method an upstream may route `bytes` as: `post` is POST to Django, Flask
    /// and ASP.NET Core and another method to Go; HEAD goes to the GET handler in
    /// Flask, Django, Express, Spring and Go. Decisions hold under all of them.
    pub fn readings(bytes: &[u8]) -> Vec<Method> {
        let exact = Method::parse(bytes);
        let mut methods = vec![exact];
        let upper = Method::parse(&bytes.to_ascii_uppercase());
        if upper != exact {
            methods.push(upper);
        }
        if methods.contains(&Method::HEAD) {
            methods.push(Method::GET);
        }
        methods
    }

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

    /// The names of the methods in the set, in the standard order; none for "any".
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        METHODS.iter().enumerate().filter(move |(i, _)| self.0 & (1 << i) != 0).map(|(_, name)| *name)
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

    /// A host the pattern matches, to show a rule at work (`*.example.com` →
    /// `app.example.com`).
    pub fn example(&self) -> String {
        match self {
            HostPattern::Exact(host) => host.clone(),
            HostPattern::Subdomain(suffix) => format!("app.{suffix}"),
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

    /// Whether the pattern matches `reading`: in its canonical form for a canonical
    /// reading, and without regard to ASCII case for a case-folded one.
    pub fn matches(&self, reading: &PathReading) -> bool {
        let path = reading.path.as_str();
        let same = |a: &str, b: &str| if reading.fold_case { a.eq_ignore_ascii_case(b) } else { a == b };
        match self {
            PathPattern::Exact(exact) if reading.canonical => same(path, canonical_pattern(exact)),
            PathPattern::Exact(exact) => same(path, exact),
            PathPattern::Prefix(prefix) => path
                .get(..prefix.len())
                .filter(|head| same(head, prefix))
                .is_some_and(|_| path.len() == prefix.len() || path.as_bytes()[prefix.len()] == b'/'),
            PathPattern::Template(segments) => {
                let segments = match segments.split_last() {
                    Some((Some(last), rest)) if last.is_empty() && !rest.is_empty() && reading.canonical => rest,
                    _ => segments,
                };
                let mut parts = path[1.min(path.len())..].split('/');
                segments.iter().all(|want| match (want, parts.next()) {
                    (Some(literal), Some(part)) => same(literal, part),
                    (None, Some(part)) => !part.is_empty(),
                    (_, None) => false,
                }) && parts.next().is_none()
            }
        }
    }

    /// A path the pattern matches, to show a rule at work (`/users/{id}` → `/users/1`).
    pub fn example(&self) -> String {
        match self {
            PathPattern::Exact(path) => path.clone(),
            PathPattern::Prefix(prefix) if prefix.is_empty() => "/".to_owned(),
            PathPattern::Prefix(prefix) => prefix.clone(),
            PathPattern::Template(segments) => segments.iter().map(|s| s.as_deref().unwrap_or("1")).fold(String::new(), |path, s| path + "/" + s),
        }
    }

    /// Whether `path` (a plain path, read literally) matches.
    pub fn matches_path(&self, path: &str) -> bool {
        self.matches(&PathReading { path: path.to_owned(), canonical: false, fold_case: false })
    }

    /// Whether the pattern has ASCII upper case, which a case-insensitive router
    /// would match in any case.
    pub fn has_upper_case(&self) -> bool {
        let upper = |text: &str| text.bytes().any(|b| b.is_ascii_uppercase());
        match self {
            PathPattern::Exact(path) | PathPattern::Prefix(path) => upper(path),
            PathPattern::Template(segments) => segments.iter().flatten().any(|s| upper(s)),
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
            (PathPattern::Exact(path), _) => other.matches_path(path),
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

/// An exact pattern as a canonical reading sees it: without its trailing slash.
fn canonical_pattern(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

/// Patterns are written as upstreams route: no escapes, parameters or dot segments,
/// which requests are decoded and read without.
fn check_plain(path: &str) -> Result<(), String> {
    let plain = path.starts_with('/')
        && !path.contains("//")
        && !path.contains(['?', '#', '*', '\\', '%', ';'])
        && path.bytes().all(|b| b.is_ascii_graphic())
        && readings(path.as_bytes()).is_ok();
    if plain { Ok(()) } else { Err(format!("`{path}` must be a plain path starting with `/` (no `?`, `#`, `*`, `%`, `;`, `\\`, `//`, spaces or dot segments)")) }
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
        assert_eq!(shape("Hr.Example.com.:443", "/").unwrap().host, "hr.example.com");
        assert_eq!(shape("[::1]:8080", "/").unwrap().host, "[::1]");
        assert_eq!(shape("10.0.0.1:80", "/").unwrap().host, "10.0.0.1");
        assert_eq!(shape("", "/").unwrap().host, "");
    }

    #[test]
    fn malformed_hosts_are_refused() {
        for authority in ["secret.example.com..", "secret.example.com:443:", "u@secret.example.com", "secret.example.com%2e", "[secret.example.com]", "a b", "h:x", "[::1", "h:", &"a.".repeat(200)] {
            assert_eq!(RequestShape::read(authority.as_bytes(), b"/", b"GET", &[]), Err(Unmatchable::Host), "{authority}");
        }
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
        assert!(prefix.matches_path("/admin") && prefix.matches_path("/admin/users"));
        assert!(!prefix.matches_path("/administer"));
        assert!(PathPattern::prefix("/").unwrap().matches_path("/anything"));
    }

    #[test]
    fn templates_match_one_segment_per_variable() {
        let template = PathPattern::template("/users/{id}/reports").unwrap();
        assert!(template.matches_path("/users/42/reports"));
        assert!(!template.matches_path("/users//reports"));
        assert!(!template.matches_path("/users/42/reports/2024"));
        assert!(!template.matches_path("/users/42"));
        assert_eq!(PathPattern::template("/users/{id/reports").unwrap_err(), "template has an unclosed '{'");
        assert!(PathPattern::template("/users/x{id}").is_err());
    }

    fn reading(path: &str, canonical: bool, fold_case: bool) -> PathReading {
        PathReading { path: path.to_owned(), canonical, fold_case }
    }

    #[test]
    fn canonical_readings_compare_with_patterns_without_their_trailing_slash() {
        let exact = PathPattern::exact("/docs/").unwrap();
        assert!(exact.matches(&reading("/docs/", false, false)) && exact.matches(&reading("/docs", true, false)));
        assert!(!exact.matches(&reading("/docs", false, false)));
        let template = PathPattern::template("/users/{id}/").unwrap();
        assert!(template.matches(&reading("/users/7", true, false)) && !template.matches(&reading("/users/7", false, false)));
    }

    #[test]
    fn case_folded_readings_ignore_ascii_case_on_both_sides() {
        let prefix = PathPattern::prefix("/Api/admin").unwrap();
        assert!(prefix.matches(&reading("/API/ADMIN/users", false, true)));
        assert!(!prefix.matches(&reading("/API/ADMIN/users", false, false)));
        assert!(PathPattern::template("/users/{id}").unwrap().matches(&reading("/USERS/X", false, true)));
    }

    #[test]
    fn patterns_with_parameters_escapes_or_spaces_are_refused() {
        for pattern in ["/a;b", "/a%20b", "/a b", "/a/../b"] {
            assert!(PathPattern::exact(pattern).is_err(), "{pattern}");
        }
    }

    #[test]
    fn subdomain_hosts_need_a_subdomain() {
        let pattern = HostPattern::parse("*.run.app").unwrap();
        assert!(pattern.matches("hello-abc.a.run.app"));
        assert!(!pattern.matches("run.app") && !pattern.matches("evilrun.app"));
        assert!(HostPattern::parse("*").is_err() && HostPattern::parse("a b").is_err());
    }

    #[test]
    fn a_method_is_read_as_every_upstream_routes_it() {
        let names = |bytes: &[u8]| Method::readings(bytes);
        assert_eq!(names(b"POST"), [Method::from_name("POST").unwrap()]);
        assert_eq!(names(b"post"), [Method::OTHER, Method::from_name("POST").unwrap()]);
        assert_eq!(names(b"HEAD"), [Method::HEAD, Method::GET]);
        assert_eq!(names(b"PURGE"), [Method::OTHER]);
        let shape = RequestShape::read(b"h", b"/", b"POST", &[b"delete"]).unwrap();
        assert_eq!(shape.methods, [Method::from_name("POST").unwrap(), Method::OTHER, Method::from_name("DELETE").unwrap()]);
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
