//! A sealed session split across cookies below the browser's per-cookie limit
//! (4096 bytes for name, value and attributes, RFC 6265 §6.1), and put back
//! together: `NAME-0`, `NAME-1`, … in order. Writing always clears the chunks past the
//! last one, so a shorter session never ends with a longer one's tail; reading stops
//! at the first missing chunk, and a chunk sent twice means no session at all.

use crate::extract::single_cookie;
use crate::request::RequestHeaders;

/// Value bytes per cookie: room under 4096 for the name and the attributes.
pub const CHUNK_BYTES: usize = 3800;
/// At most this many chunks (30 KB of cookies).
pub const MAX_CHUNKS: usize = 8;

/// The cookie names and values that carry `value`, or `None` if it needs more than
/// [`MAX_CHUNKS`]; `value` must be cookie-safe (base64url is).
pub fn split(name: &str, value: &str) -> Option<Vec<(String, String)>> {
    let pieces: Vec<&[u8]> = value.as_bytes().chunks(CHUNK_BYTES).collect();
    if pieces.len() > MAX_CHUNKS {
        return None;
    }
    let chunk = |(i, piece): (usize, &&[u8])| Some((chunk_name(name, i), String::from_utf8(piece.to_vec()).ok()?));
    pieces.iter().enumerate().map(chunk).collect()
}

/// The names of the chunks a value of `used` chunks leaves over, to be cleared.
pub fn unused(name: &str, used: usize) -> Vec<String> {
    (used..MAX_CHUNKS).map(|i| chunk_name(name, i)).collect()
}

/// The names of the chunks from `NAME-first` on that the request carries (or holds
/// ambiguously): what clearing a shorter value, or signing out, must drop.
pub fn carried_from(name: &str, first: usize, request: &(impl RequestHeaders + ?Sized)) -> Vec<String> {
    unused(name, first).into_iter().filter(|chunk| single_cookie(request, chunk).map_or(true, |value| value.is_some())).collect()
}

/// The value the request's `NAME-i` cookies carry, joined; `None` if there is none,
/// or a chunk appears twice (two browsers' cookies, or a planted one).
pub fn join(name: &str, request: &(impl RequestHeaders + ?Sized)) -> Option<Vec<u8>> {
    let mut value = Vec::new();
    for i in 0..MAX_CHUNKS {
        match single_cookie(request, &chunk_name(name, i)).ok()? {
            Some(piece) => value.extend_from_slice(&piece),
            None => break,
        }
    }
    (!value.is_empty()).then_some(value)
}

fn chunk_name(name: &str, index: usize) -> String {
    format!("{name}-{index}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestSnapshot;

    fn with_cookies(pairs: &[(String, String)]) -> RequestSnapshot {
        let header: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        RequestSnapshot::new("GET", "app.example.com", "/").with_header("cookie", header.join("; "))
    }

    #[test]
    fn a_long_value_splits_below_the_limit_and_joins_back() {
        let value = "a".repeat(CHUNK_BYTES * 2 + 5);
        let pieces = split("__Host-s", &value).unwrap();
        assert_eq!(pieces.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["__Host-s-0", "__Host-s-1", "__Host-s-2"]);
        assert!(pieces.iter().all(|(_, v)| v.len() <= CHUNK_BYTES));
        assert_eq!(join("__Host-s", &with_cookies(&pieces)).unwrap(), value.as_bytes());
        assert_eq!(unused("__Host-s", pieces.len()).first().map(String::as_str), Some("__Host-s-3"));
    }

    #[test]
    fn a_missing_first_chunk_or_a_doubled_one_is_no_session() {
        let pieces = split("s", &"b".repeat(CHUNK_BYTES + 1)).unwrap();
        assert_eq!(join("s", &with_cookies(&pieces[1..])), None);
        let doubled = [pieces.clone(), vec![pieces[1].clone()]].concat();
        assert_eq!(join("s", &with_cookies(&doubled)), None);
        assert_eq!(join("s", &RequestSnapshot::new("GET", "h", "/")), None);
    }

    #[test]
    fn too_long_a_value_is_refused() {
        assert!(split("s", &"c".repeat(CHUNK_BYTES * MAX_CHUNKS + 1)).is_none());
    }
}
