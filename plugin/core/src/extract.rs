//! Finds the caller's token: the first configured source that holds one wins.

use crate::request::RequestHeaders;

/// A place a token may be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A header, lower-cased, whose value starts with `prefix` (compared
    /// case-insensitively, as HTTP auth schemes are); an empty prefix takes the whole value.
    Header { name: String, prefix: String },
    /// A cookie by name, from the `cookie` header.
    Cookie { name: String },
}

/// A token and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundToken {
    pub source: usize,
    pub token: Vec<u8>,
}

/// A source that holds a token more than once: a repeated header, or a cookie set
/// twice. Upstreams pick the first, the last or a join of them, so the gate cannot
/// know which one it would be vouching for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmbiguousToken;

/// The first non-empty token among `sources`. A header that is present but carries
/// another scheme (`Authorization: Basic …`) is passed over, not an error: another
/// source may still hold the token. A source that holds a token and is repeated is
/// ambiguous.
pub fn find_token(sources: &[TokenSource], request: &impl RequestHeaders) -> Result<Option<FoundToken>, AmbiguousToken> {
    for (index, source) in sources.iter().enumerate() {
        let found = match source {
            TokenSource::Header { name, prefix } => header_token(request, name, prefix)?,
            TokenSource::Cookie { name } => single_cookie(request, name)?,
        };
        if let Some(token) = found {
            return Ok(Some(FoundToken { source: index, token }));
        }
    }
    Ok(None)
}

/// Envoy keeps a repeated header as separate entries, or joins it into one value with
/// commas (it does for `authorization`); a JWT never holds a comma, so either way each
/// comma-separated part is one value.
fn header_token(request: &impl RequestHeaders, name: &str, prefix: &str) -> Result<Option<Vec<u8>>, AmbiguousToken> {
    let Some(first) = request.header(name) else { return Ok(None) };
    if request.header_count(name) == 1 && !first.contains(&b',') {
        return Ok(from_header(first, prefix));
    }
    // Here there are at least two parts: any token among them is ambiguous.
    let values = request.header_values(name);
    let mut parts = values.iter().flat_map(|value| value.split(|&b| b == b',')).map(<[u8]>::trim_ascii);
    match parts.any(|part| from_header(part, prefix).is_some()) {
        true => Err(AmbiguousToken),
        false => Ok(None),
    }
}

/// The value of cookie `name` across every `Cookie` header; an error if it is set
/// more than once, since browsers and upstreams disagree about which one counts.
pub fn single_cookie(request: &(impl RequestHeaders + ?Sized), name: &str) -> Result<Option<Vec<u8>>, AmbiguousToken> {
    let mut found: Option<Vec<u8>> = None;
    for header in request.header_values("cookie") {
        for value in cookie_values(header, name) {
            if found.replace(value).is_some() {
                return Err(AmbiguousToken);
            }
        }
    }
    Ok(found.filter(|token| !token.is_empty()))
}

fn from_header(value: &[u8], prefix: &str) -> Option<Vec<u8>> {
    let prefix = prefix.as_bytes();
    let head = value.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    non_empty(value[prefix.len()..].trim_ascii())
}

/// The value of cookie `name` in a `Cookie` header (RFC 6265 `name=value; …`).
pub fn cookie_value(header: &[u8], name: &str) -> Option<Vec<u8>> {
    cookie_values(header, name).into_iter().find(|value| !value.is_empty())
}

/// Every value of cookie `name` in a `Cookie` header, empty ones included.
fn cookie_values(header: &[u8], name: &str) -> Vec<Vec<u8>> {
    header
        .split(|&b| b == b';')
        .filter_map(split_pair)
        .filter(|(key, _)| *key == name.as_bytes())
        .map(|(_, value)| unquote(value).to_vec())
        .collect()
}

/// The `Cookie` header with cookie `name` removed; `None` when nothing would remain.
pub fn cookie_header_without(header: &[u8], name: &str) -> Option<Vec<u8>> {
    let kept: Vec<&[u8]> = header
        .split(|&b| b == b';')
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty() && split_pair(pair).is_none_or(|(key, _)| key != name.as_bytes()))
        .collect();
    (!kept.is_empty()).then(|| kept.join(&b"; "[..]))
}

fn split_pair(pair: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = pair.iter().position(|&b| b == b'=')?;
    Some((pair[..at].trim_ascii(), pair[at + 1..].trim_ascii()))
}

fn unquote(value: &[u8]) -> &[u8] {
    value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value)
}

fn non_empty(value: &[u8]) -> Option<Vec<u8>> {
    (!value.is_empty()).then(|| value.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestSnapshot;

    fn default_sources() -> Vec<TokenSource> {
        vec![
            TokenSource::Header { name: "authorization".into(), prefix: "Bearer ".into() },
            TokenSource::Header { name: "x-serverless-authorization".into(), prefix: "Bearer ".into() },
            TokenSource::Header { name: "x-goog-iap-jwt-assertion".into(), prefix: String::new() },
            TokenSource::Cookie { name: "GCP_IAP_AUTH_TOKEN".into() },
        ]
    }

    fn find(request: RequestSnapshot) -> Option<(usize, String)> {
        find_token(&default_sources(), &request)
            .unwrap()
            .map(|found| (found.source, String::from_utf8(found.token).unwrap()))
    }

    fn get() -> RequestSnapshot {
        RequestSnapshot::new("GET", "svc", "/")
    }

    #[test]
    fn bearer_in_authorization_is_found_with_any_scheme_case() {
        assert_eq!(find(get().with_header("authorization", "bearer abc")), Some((0, "abc".into())));
        assert_eq!(find(get().with_header("authorization", "BEARER  abc ")), Some((0, "abc".into())));
    }

    #[test]
    fn the_first_source_wins_when_several_hold_a_token() {
        let request = get()
            .with_header("x-serverless-authorization", "Bearer second")
            .with_header("authorization", "Bearer first");
        assert_eq!(find(request), Some((0, "first".into())));
    }

    #[test]
    fn another_scheme_in_authorization_falls_through_to_the_next_source() {
        let request = get()
            .with_header("authorization", "Basic dXNlcjpwYXNz")
            .with_header("x-serverless-authorization", "Bearer run");
        assert_eq!(find(request), Some((1, "run".into())));
    }

    #[test]
    fn iap_assertion_header_has_no_prefix() {
        assert_eq!(find(get().with_header("x-goog-iap-jwt-assertion", "iap.jwt.x")), Some((2, "iap.jwt.x".into())));
    }

    #[test]
    fn a_cookie_is_found_among_others_and_quotes_are_dropped() {
        let request = get().with_header("cookie", "a=1; GCP_IAP_AUTH_TOKEN=\"tok\"; b=2");
        assert_eq!(find(request), Some((3, "tok".into())));
    }

    #[test]
    fn an_empty_bearer_counts_as_no_token() {
        assert_eq!(find(get().with_header("authorization", "Bearer   ")), None);
        assert_eq!(find(get()), None);
    }

    #[test]
    fn non_utf8_values_are_passed_on_as_bytes_for_the_verifier_to_refuse() {
        let found = find_token(&default_sources(), &get().with_header_bytes("authorization", b"Bearer \xff\xfe".to_vec()));
        assert_eq!(found.unwrap().unwrap().token, b"\xff\xfe");
    }

    #[test]
    fn a_repeated_token_source_is_ambiguous() {
        let sources = default_sources();
        let twice = get().with_header("authorization", "Bearer a").with_header("authorization", "Bearer b");
        assert_eq!(find_token(&sources, &twice), Err(AmbiguousToken));
        let basic_and_bearer = get().with_header("authorization", "Basic x").with_header("authorization", "Bearer b");
        assert_eq!(find_token(&sources, &basic_and_bearer), Err(AmbiguousToken));
        let joined = get().with_header("authorization", "Bearer a, Bearer b");
        assert_eq!(find_token(&sources, &joined), Err(AmbiguousToken));
        let joined_basic = get().with_header("authorization", "Basic x,Bearer b");
        assert_eq!(find_token(&sources, &joined_basic), Err(AmbiguousToken));
        let two_basics = get().with_header("authorization", "Basic x").with_header("authorization", "Basic y");
        assert_eq!(find_token(&sources, &two_basics), Ok(None));
        let cookie_twice = get().with_header("cookie", "GCP_IAP_AUTH_TOKEN=a; x=1").with_header("cookie", "GCP_IAP_AUTH_TOKEN=b");
        assert_eq!(find_token(&sources, &cookie_twice), Err(AmbiguousToken));
        let cookie_twice_in_one = get().with_header("cookie", "GCP_IAP_AUTH_TOKEN=a; GCP_IAP_AUTH_TOKEN=a");
        assert_eq!(find_token(&sources, &cookie_twice_in_one), Err(AmbiguousToken));
    }

    #[test]
    fn stripping_a_cookie_keeps_the_others() {
        let header = b"a=1; GCP_IAP_AUTH_TOKEN=tok;b=2";
        assert_eq!(cookie_header_without(header, "GCP_IAP_AUTH_TOKEN").unwrap(), b"a=1; b=2");
        assert_eq!(cookie_header_without(b"GCP_IAP_AUTH_TOKEN=tok", "GCP_IAP_AUTH_TOKEN"), None);
    }
}
