//! How upstreams may read a request path: the readings a rule must hold under.
//!
//! Envoy forwards the path it received (after `normalize_path`/`merge_slashes`, if
//! the operator set them), and each upstream framework routes it its own way: Tomcat,
//! Jetty and Spring drop `;parameters` from segments, Express (non-strict), Rails and
//! Spring ≤ 5 ignore a trailing slash, many collapse `//`, Express and ASP.NET route
//! without regard to case, all of them percent-decode. A rule is only safe if it holds
//! under every one of these readings, so the gate reads each request path in every
//! distinct way below and the policy decides on all of them: a deny that matches any
//! reading denies, and an allow admits only if every reading is admitted.
//!
//! Bytes no reading can settle — an encoded `/` or `\`, a dot segment (also `..;x`),
//! an encoded control byte, double encoding (`%25` + two hex digits), overlong UTF-8,
//! Unicode slash and dot lookalikes, a malformed escape — make the path ambiguous:
//! the request is refused with 400 `ambiguous_path`.

/// Why a request path cannot be matched safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmbiguousPath;

/// One way an upstream may read the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathReading {
    /// Percent-decoded, without query or fragment.
    pub path: String,
    /// Path parameters removed, `//` merged and the trailing slash dropped: patterns
    /// are compared in their canonical form too.
    pub canonical: bool,
    /// Compared with patterns without regard to ASCII case.
    pub fold_case: bool,
}

/// The two readings of `raw` (a `:path`): the literal one, then the canonical one. Case is the
/// policy's business: it reads each of these case-folded too wherever the path or
/// one of its patterns has upper case (see [`PathReading::folded`]).
pub fn readings(raw: &[u8]) -> Result<Vec<PathReading>, AmbiguousPath> {
    let decoded = decode(strip_query(raw))?;
    check_dot_segments(&decoded)?;
    // Every canonical segment is a decoded segment cut at `;`, which the check above
    // already looked at.
    let canonical = canonical_form(&decoded);
    // The canonical reading is kept even when it reads the same string: patterns are
    // compared in their canonical form there (`exact /docs/` holds for `/docs`).
    Ok(vec![
        PathReading { path: decoded, canonical: false, fold_case: false },
        PathReading { path: canonical, canonical: true, fold_case: false },
    ])
}

impl PathReading {
    /// This reading compared without regard to ASCII case, as Express and ASP.NET Core
    /// route.
    pub fn folded(&self) -> PathReading {
        PathReading { fold_case: true, ..self.clone() }
    }

    pub fn has_upper_case(&self) -> bool {
        self.path.bytes().any(|b| b.is_ascii_uppercase())
    }
}

/// The path with path parameters removed from every segment, empty segments merged
/// and no trailing slash: what the most permissive upstreams route.
pub fn canonical_form(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/') {
        let segment = segment.split(';').next().unwrap_or("");
        if !segment.is_empty() {
            out.push('/');
            out.push_str(segment);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn strip_query(path: &[u8]) -> &[u8] {
    let end = path.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(path.len());
    &path[..end]
}

/// Decodes every escape an upstream would decode before routing; refuses the bytes
/// that upstreams disagree about.
fn decode(path: &[u8]) -> Result<String, AmbiguousPath> {
    if path.first() != Some(&b'/') || path.iter().any(|&b| b == b'\\' || b.is_ascii_control() || b >= 0x80) {
        return Err(AmbiguousPath);
    }
    let mut bytes = Vec::with_capacity(path.len());
    let mut at = 0;
    while at < path.len() {
        if path[at] == b'%' {
            let byte = hex_pair(path.get(at + 1..at + 3)).ok_or(AmbiguousPath)?;
            if byte == b'/' || byte == b'\\' || byte.is_ascii_control() {
                return Err(AmbiguousPath);
            }
            bytes.push(byte);
            at += 3;
        } else {
            bytes.push(path[at]);
            at += 1;
        }
    }
    // Invalid UTF-8 (overlong `%C0%AF` among it) is read differently by every decoder.
    let decoded = String::from_utf8(bytes).map_err(|_| AmbiguousPath)?;
    // A decoded `?` or `#` ends the path for a hop that decodes and parses again.
    if decoded.chars().any(|c| is_lookalike(c) || c == '?' || c == '#') || double_encoded(&decoded) {
        return Err(AmbiguousPath);
    }
    Ok(decoded)
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let pair = pair?;
    if pair.len() != 2 || !pair.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
    Some(digit(pair[0]) * 16 + digit(pair[1]))
}

/// An escape left after decoding once (`%252e`, `%25%32%65`): an upstream that decodes
/// twice reads another path.
fn double_encoded(decoded: &str) -> bool {
    let bytes = decoded.as_bytes();
    bytes.iter().enumerate().any(|(at, &b)| b == b'%' && hex_pair(bytes.get(at + 1..at + 3)).is_some())
}

/// Characters that some upstream turns into ASCII before routing, so a pattern could
/// match them there and not here: what NFKC compatibility folding (IIS best fit, Python
/// and Java normalisers) maps to ASCII — fullwidth and mathematical letters, ligatures,
/// super- and subscripts, dot leaders, vertical and small forms, compatibility spaces —
/// what full case folding maps to ASCII (`ß` → `ss`, Kelvin `K` → `k`, `ſ` → `s`,
/// `İ`, `ı`), and the slash and backslash lookalikes. Patterns are ASCII, so refusing
/// them loses no path a rule could name.
fn is_lookalike(c: char) -> bool {
    const RANGES: &[(u32, u32)] = &[
        (0x00A0, 0x00A0), (0x00AA, 0x00AA), (0x00B2, 0x00B3), (0x00B9, 0x00BA), (0x00BC, 0x00BE), (0x00DF, 0x00DF),
        (0x0130, 0x0133), (0x013F, 0x0140), (0x0149, 0x0149), (0x017F, 0x017F), (0x01C4, 0x01CC), (0x01F1, 0x01F3),
        (0x02B0, 0x02B8), (0x1D2C, 0x1D6A), (0x1D78, 0x1D78), (0x1D9B, 0x1DBF), (0x1E9E, 0x1E9E),
        (0x2000, 0x200A), (0x2024, 0x2026), (0x2044, 0x2044), (0x2070, 0x209C), (0x2100, 0x2189),
        (0x2215, 0x2216), (0x2460, 0x24FF), (0x2A74, 0x2A76), (0x2C7C, 0x2C7D), (0x3000, 0x3000),
        (0x3200, 0x33FF), (0xFB00, 0xFB06), (0xFE10, 0xFE19), (0xFE30, 0xFE4F), (0xFE50, 0xFE6B),
        (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF),
    ];
    let code = u32::from(c);
    RANGES.iter().any(|&(low, high)| (low..=high).contains(&code))
}

/// `.` and `..` segments — also as `..;x`, which Tomcat reads as `..` — are resolved
/// differently by different hops: refused, never guessed.
fn check_dot_segments(path: &str) -> Result<(), AmbiguousPath> {
    let dot = |segment: &str| {
        let name = segment.split(';').next().unwrap_or("");
        name == "." || name == ".."
    };
    if path.split('/').any(dot) { Err(AmbiguousPath) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(raw: &str) -> Vec<(String, bool, bool)> {
        readings(raw.as_bytes()).unwrap().into_iter().map(|r| (r.path, r.canonical, r.fold_case)).collect()
    }

    #[test]
    fn a_plain_path_reads_the_same_both_ways() {
        assert_eq!(paths("/api/admin/users?x=1"), [("/api/admin/users".to_owned(), false, false), ("/api/admin/users".to_owned(), true, false)]);
    }

    #[test]
    fn path_parameters_trailing_and_double_slashes_are_dropped_in_the_canonical_reading() {
        for raw in ["/api/admin;x=1/users", "/api/admin%3Bx=1/users", "/api/admin;/users", "/api//admin/users/", "/api/admin/users;jsessionid=1"] {
            let all = paths(raw);
            assert_eq!(all.len(), 2, "{raw}");
            assert_eq!(all[1], ("/api/admin/users".to_owned(), true, false), "{raw}");
        }
    }

    #[test]
    fn escapes_of_ordinary_characters_are_decoded() {
        assert_eq!(paths("/%61dmin/%7Eme%3Ax")[0].0, "/admin/~me:x");
        assert_eq!(paths("/caf%c3%a9")[0].0, "/caf\u{e9}");
    }

    #[test]
    fn what_upstreams_disagree_about_is_ambiguous() {
        for raw in [
            "/a/../admin", "/a/%2e%2e/admin", "/a/..%2Fadmin", "/a\\..\\admin", "/a/./x", "a", "/caf\u{e9}",
            "/api/..;/admin", "/api/.;x/admin", "/a%2fb", "/a%5Cb", "/a%00b", "/a%0d%0ab", "/a%252e%252e/b",
            "/a%25%32%65", "/a%zz", "/a%2", "/a%c0%afb", "/a%ef%bc%8fadmin", "/a%E2%88%95b", "/%E2%84%AAeys", "/a%ff",
            "/public/%E2%80%A5/admin", "/public/%EF%B8%B0/admin", "/%EF%BD%81dmin", "/%F0%9D%90%9Admin", "/%EF%AC%81les",
            "/cla%C3%9F", "/admin%3F", "/admin%23x", "/a%C2%A0b",
        ] {
            assert_eq!(readings(raw.as_bytes()), Err(AmbiguousPath), "{raw}");
        }
        assert!(readings(b"/100%25").is_ok(), "a literal percent sign is not double encoding");
    }
}
