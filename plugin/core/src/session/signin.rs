//! The browser's way in: which requests may be sent to Google's sign-in (a person's
//! navigation, never an API call), the authorization request they are sent with,
//! and where a browser may be sent back afterwards (this origin only).

use super::form;
use crate::request::RequestHeaders;

/// The longest path a browser is sent back to; longer ones go to `/`. Each sign-in's
/// cookie carries it, and a browser holds a few of them at once: kept short so they
/// never add up to more header than a proxy accepts.
const MAX_RETURN_PATH: usize = 512;

/// Whether `request` is a browser navigating to a page: `GET` or `HEAD`, and either
/// `Sec-Fetch-Mode: navigate` or, from browsers that do not send fetch metadata, an
/// `Accept` that asks for HTML. `fetch()`, XHR and API clients get a 401, never a
/// redirect to a sign-in page they cannot show. (Callers with a token are not sent
/// here at all: that is the gate's rule.)
pub fn is_navigation(request: &impl RequestHeaders) -> bool {
    let text = |name: &str| request.header(name).map(|v| String::from_utf8_lossy(v).to_ascii_lowercase());
    let method = request.header(":method").unwrap_or_default();
    if method != b"GET" && method != b"HEAD" {
        return false;
    }
    if text("x-requested-with").is_some_and(|v| v == "xmlhttprequest") {
        return false;
    }
    match text("sec-fetch-mode") {
        Some(mode) => mode == "navigate",
        None => text("accept").is_some_and(|accept| accept.contains("text/html")),
    }
}

/// Whether `request` writes (any method but `GET`, `HEAD` and `OPTIONS`, a method
/// override, or a WebSocket upgrade) from a page of another origin, as the browser
/// tells it: `Sec-Fetch-Site` other than `same-origin` or `none`, or, from a browser
/// without fetch metadata, an `Origin` whose host is not the request's. `SameSite=Lax`
/// lets pages of the same site (a sibling subdomain) send the session cookie with
/// such requests; the session must not authenticate them.
pub fn is_cross_origin_write(request: &(impl RequestHeaders + ?Sized)) -> bool {
    let method = request.header(":method").unwrap_or_default();
    let overridden = ["x-http-method-override", "x-http-method", "x-method-override"].iter().any(|name| request.header(name).is_some());
    if matches!(method, b"GET" | b"HEAD" | b"OPTIONS") && !overridden && request.header("upgrade").is_none() {
        return false;
    }
    match (request.header("sec-fetch-site"), request.header("origin")) {
        (Some(site), _) => !(site.eq_ignore_ascii_case(b"same-origin") || site.eq_ignore_ascii_case(b"none")),
        (None, Some(origin)) => {
            let host = origin.split(|&b| b == b'/').nth(2).unwrap_or_default();
            !request.header(":authority").is_some_and(|authority| authority.eq_ignore_ascii_case(host))
        }
        // No browser sends neither on a write: an API client with a cookie of its own.
        (None, None) => false,
    }
}

/// Where to send a browser back after sign-in: the request's own path if it is a
/// plain same-origin path (`/…`, not `//host` or `/\host`, which browsers read as
/// another origin; printable ASCII), else `/`.
pub fn return_path(raw_path: &[u8]) -> String {
    let plain = raw_path.len() <= MAX_RETURN_PATH
        && raw_path.first() == Some(&b'/')
        && !matches!(raw_path.get(1), Some(b'/' | b'\\'))
        && raw_path.iter().all(|&b| b.is_ascii_graphic() && b != b'\\');
    if plain { String::from_utf8_lossy(raw_path).into_owned() } else { "/".to_owned() }
}

/// An OpenID Connect authorization request (code flow with PKCE S256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub code_challenge: &'a str,
    /// Google's `hd` hint, when the policy names one domain.
    pub hosted_domain: Option<&'a str>,
    /// Preselects an account (`login_hint`).
    pub login_hint: Option<&'a str>,
}

impl AuthorizationRequest<'_> {
    /// The URL of `endpoint` (`https://accounts.google.com/o/oauth2/v2/auth`) with
    /// this request as its query.
    pub fn url(&self, endpoint: &str) -> String {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
            ("scope", "openid email"),
            ("state", self.state),
            ("nonce", self.nonce),
            ("code_challenge", self.code_challenge),
            ("code_challenge_method", "S256"),
        ];
        params.extend(self.hosted_domain.map(|hd| ("hd", hd)));
        params.extend(self.login_hint.map(|hint| ("login_hint", hint)));
        format!("{endpoint}?{}", form::encode(&params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestSnapshot;

    fn request(method: &str, headers: &[(&str, &str)]) -> RequestSnapshot {
        headers.iter().fold(RequestSnapshot::new(method, "app.example.com", "/app"), |r, (n, v)| r.with_header(n, v))
    }

    #[test]
    fn only_a_browser_navigating_to_a_page_is_a_navigation() {
        assert!(is_navigation(&request("GET", &[("sec-fetch-mode", "navigate"), ("accept", "*/*")])));
        assert!(is_navigation(&request("GET", &[("accept", "text/html,application/xhtml+xml")])), "no fetch metadata: Accept decides");
        assert!(is_navigation(&request("HEAD", &[("sec-fetch-mode", "navigate")])));
        assert!(!is_navigation(&request("GET", &[("sec-fetch-mode", "cors"), ("accept", "text/html")])), "fetch() asking for HTML");
        assert!(!is_navigation(&request("GET", &[("accept", "application/json")])));
        assert!(!is_navigation(&request("GET", &[("accept", "text/html"), ("x-requested-with", "XMLHttpRequest")])));
        assert!(!is_navigation(&request("POST", &[("sec-fetch-mode", "navigate"), ("accept", "text/html")])), "a form post is not sent away");
        assert!(!is_navigation(&request("GET", &[])), "an API client");
    }

    #[test]
    fn writes_and_websockets_from_other_origins_are_told_apart() {
        let write = |method: &str, headers: &[(&str, &str)]| is_cross_origin_write(&request(method, headers));
        assert!(!write("GET", &[("sec-fetch-site", "cross-site")]), "a read is not a write");
        assert!(write("POST", &[("sec-fetch-site", "same-site")]), "a sibling subdomain's form");
        assert!(write("GET", &[("sec-fetch-site", "same-site"), ("upgrade", "websocket")]));
        assert!(write("GET", &[("sec-fetch-site", "cross-site"), ("x-http-method-override", "DELETE")]));
        assert!(!write("POST", &[("sec-fetch-site", "same-origin")]));
        assert!(!write("DELETE", &[("origin", "https://APP.example.com")]), "no fetch metadata: Origin decides");
        assert!(write("DELETE", &[("origin", "https://evil.example.com")]));
        assert!(write("POST", &[("origin", "null")]));
        assert!(!write("POST", &[]), "an API client");
    }

    #[test]
    fn only_plain_same_origin_paths_are_returned_to() {
        assert_eq!(return_path(b"/app/reports?q=1"), "/app/reports?q=1");
        for other_origin in [&b"//evil.example/x"[..], b"/\\evil.example", b"https://evil.example/", b"evil", b"", b"/a\\b", b"/a b", b"/a\r\nLocation: x"] {
            assert_eq!(return_path(other_origin), "/", "{:?}", String::from_utf8_lossy(other_origin));
        }
        assert_eq!(return_path(&[b"/".as_slice(), &[b'a'; MAX_RETURN_PATH]].concat()), "/");
    }

    #[test]
    fn the_authorization_request_is_a_pkce_code_request_with_every_value_encoded() {
        let request = AuthorizationRequest {
            client_id: "123-abc.apps.googleusercontent.com",
            redirect_uri: "https://app.example.com/_wsgate/callback",
            state: "st",
            nonce: "n",
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            hosted_domain: Some("example.com"),
            login_hint: Some("alice@example.com"),
        };
        assert_eq!(
            request.url("https://accounts.google.com/o/oauth2/v2/auth"),
            "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=123-abc.apps.googleusercontent.com\
             &redirect_uri=https%3A%2F%2Fapp.example.com%2F_wsgate%2Fcallback&scope=openid+email&state=st&nonce=n\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&hd=example.com\
             &login_hint=alice%40example.com"
        );
    }
}
