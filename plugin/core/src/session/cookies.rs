//! The gate's own cookies on the wire: the `Set-Cookie` values it sends (host-only,
//! `HttpOnly`, `SameSite=Lax`, `Secure` and `__Host-` unless the operator runs plain
//! HTTP), and the `Cookie` header the upstream gets, with every one of them removed.

use super::setup::CookieNames;

/// `Set-Cookie` for cookie `name` holding `value` for `max_age` seconds. `Path=/`
/// and no `Domain`: what the `__Host-` prefix demands, and a cookie only this host
/// gets either way.
pub fn set(names: &CookieNames, name: &str, value: &str, max_age: u64) -> String {
    let secure = if names.secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// `Set-Cookie` that makes the browser drop cookie `name`.
pub fn clear(names: &CookieNames, name: &str) -> String {
    set(names, name, "", 0)
}

/// The `Cookie` headers' pairs without the gate's own cookies, joined (RFC 6265
/// §5.4); `None` when nothing else remains. Names are compared as upstreams might
/// read them: case-folded, and with the `__Host-` prefix's own spelling of any case.
pub fn without_own(headers: &[&[u8]], names: &CookieNames) -> Option<Vec<u8>> {
    let prefix = names.prefix.as_bytes();
    let own = |pair: &[u8]| {
        let name = pair.split(|&b| b == b'=').next().unwrap_or_default().trim_ascii();
        name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    let kept: Vec<&[u8]> = headers
        .iter()
        .flat_map(|header| header.split(|&b| b == b';'))
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty() && !own(pair))
        .collect();
    (!kept.is_empty()).then(|| kept.join(&b"; "[..]))
}

/// Whether a session cookie may be added to an upstream response with this
/// `Cache-Control`: not to one a shared cache may store (`public`, `s-maxage`), which
/// would hand one person's session to others. The refresh waits for another response.
pub fn may_set_on_response(cache_control: &[&[u8]]) -> bool {
    let shared = |value: &&[u8]| {
        let text = String::from_utf8_lossy(value).to_ascii_lowercase();
        text.split(',').map(str::trim).any(|directive| directive == "public" || directive.starts_with("s-maxage"))
    };
    !cache_control.iter().any(shared)
}

/// Whether any `Cookie` header holds one of the gate's cookies.
pub fn has_own(headers: &[&[u8]], names: &CookieNames) -> bool {
    // Runs for every request a sign-in gate forwards: compared in place, no copies.
    let prefix = names.prefix.as_bytes();
    headers.iter().any(|header| header.windows(prefix.len()).any(|window| window.eq_ignore_ascii_case(prefix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(secure: bool) -> CookieNames {
        let prefix = if secure { "__Host-wsgate-" } else { "wsgate-" };
        CookieNames { prefix: prefix.into(), session: format!("{prefix}session"), flow: format!("{prefix}flow-"), secure }
    }

    #[test]
    fn cookies_are_host_only_http_only_and_lax_and_secure_unless_turned_off() {
        assert_eq!(set(&names(true), "__Host-wsgate-session-0", "v", 60), "__Host-wsgate-session-0=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(clear(&names(false), "wsgate-session-0"), "wsgate-session-0=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    }

    #[test]
    fn no_session_cookie_on_a_response_a_shared_cache_may_keep() {
        assert!(may_set_on_response(&[]));
        assert!(may_set_on_response(&[b"private, max-age=60"]));
        assert!(!may_set_on_response(&[b"Public, max-age=600"]));
        assert!(!may_set_on_response(&[b"max-age=0", b"s-maxage=300"]));
    }

    #[test]
    fn the_gates_cookies_never_reach_the_upstream_in_any_spelling() {
        let headers: [&[u8]; 2] = [b"a=1; __Host-wsgate-session-0=x; __HOST-WSGATE-flow-abc=y", b"__host-wsgate-session-1=z;b=2"];
        assert_eq!(without_own(&headers, &names(true)).as_deref(), Some(&b"a=1; b=2"[..]));
        assert!(has_own(&headers, &names(true)));
        assert_eq!(without_own(&[b"__Host-wsgate-session-0=x"], &names(true)), None);
        assert!(!has_own(&[b"a=1"], &names(true)));
    }
}
