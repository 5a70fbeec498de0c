//! The changes the gate makes to a request's (and a response's) headers, as edits
//! with the proxy's meaning: the filter carries each out with one host call, and the
//! native replay applies the same edits to a header list, so the two cannot drift.

/// One change to a header map. Names are lower-case, as Envoy keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderEdit<'a> {
    /// Every value of the header goes.
    Remove(&'a str),
    /// The header ends up with this one value, whatever it had.
    Set(&'a str, &'a [u8]),
    /// One more value, beside any the header had (`Set-Cookie`).
    Add(&'a str, &'a [u8]),
}

impl<'a> HeaderEdit<'a> {
    /// The edit that puts a response header the gate asks for: `Set-Cookie` is
    /// added beside the upstream's own cookies, anything else replaces.
    pub fn for_response(name: &'a str, value: &'a [u8]) -> Self {
        if name.eq_ignore_ascii_case("set-cookie") { HeaderEdit::Add(name, value) } else { HeaderEdit::Set(name, value) }
    }
}

/// Applies `edit` to `headers` as Envoy's header map does: names compare without
/// regard to case; a set replaces every value, appending if there was none.
pub fn apply(headers: &mut Vec<(String, Vec<u8>)>, edit: HeaderEdit<'_>) {
    match edit {
        HeaderEdit::Remove(name) => headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name)),
        HeaderEdit::Set(name, value) => {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.to_owned(), value.to_vec()));
        }
        HeaderEdit::Add(name, value) => headers.push((name.to_owned(), value.to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())).collect()
    }

    #[test]
    fn a_set_replaces_every_spelling_and_value_and_a_remove_leaves_none() {
        let mut map = headers(&[("X-Workspace-Email", "forged@x"), ("x-workspace-email", "again@x"), ("cookie", "a=1")]);
        apply(&mut map, HeaderEdit::Set("x-workspace-email", b"alice@example.com"));
        assert_eq!(map, headers(&[("cookie", "a=1"), ("x-workspace-email", "alice@example.com")]));
        apply(&mut map, HeaderEdit::Remove("cookie"));
        apply(&mut map, HeaderEdit::Remove("absent"));
        assert_eq!(map, headers(&[("x-workspace-email", "alice@example.com")]));
    }
}
