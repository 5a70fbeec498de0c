//! What a header may hold, as Envoy checks it: one rule for names (an RFC 9110
//! token, stored in lower case) and one for the bytes of values (RFC 9110 field-value,
//! Envoy's `HeaderUtility::headerValueIsValid`). Every header name the configuration
//! gives, and every configured value that goes into a header, is checked here.

/// The punctuation RFC 9110 §5.6.2 allows in a token, besides letters and digits.
const TOKEN_PUNCTUATION: &[u8] = b"!#$%&'*+-.^_`|~";

/// An RFC 9110 token: one or more letters, digits or `!#$%&'*+-.^_`|~`. Header and
/// cookie names are tokens; Envoy refuses any other header name.
pub fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || TOKEN_PUNCTUATION.contains(&b))
}

/// `name` as Envoy stores a header name (lower case, as HTTP/2 sends it), or why it
/// is not one.
pub fn header_name(name: &str) -> Result<String, String> {
    match is_token(name) {
        true => Ok(name.to_ascii_lowercase()),
        false => Err(format!("`{name}` is not a valid header name")),
    }
}

/// A byte Envoy passes in a header value: visible ASCII, space, tab, and obs-text
/// (0x80–0xFF). Every other control byte is refused: NUL, CR and LF would end or
/// split the header.
pub fn is_value_byte(b: u8) -> bool {
    b == b'\t' || !b.is_ascii_control()
}

/// A value byte that is not white space (RFC 9110 `field-vchar`): what a value that
/// must stay one word (an `:authority`, a `:path`) is made of.
pub fn is_visible_value_byte(b: u8) -> bool {
    is_value_byte(b) && b != b' ' && b != b'\t'
}

/// A value byte RFC 6750 §3 allows inside a challenge's quoted attributes (`realm`,
/// `error_description`): printable ASCII and space, without `"` and `\`, so the value
/// is quoted as it is, with no escapes.
pub fn is_quotable_byte(b: u8) -> bool {
    b.is_ascii() && b != b'\t' && is_value_byte(b) && b != b'"' && b != b'\\'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value, for rules stated over all of them.
    fn all_bytes() -> impl Iterator<Item = u8> {
        0..=u8::MAX
    }

    #[test]
    fn a_value_byte_is_tab_space_visible_ascii_or_obs_text() {
        for b in all_bytes() {
            let expected = b == 0x09 || (0x20..=0x7e).contains(&b) || b >= 0x80;
            assert_eq!(is_value_byte(b), expected, "{b:#04x}");
        }
    }

    #[test]
    fn a_visible_byte_is_a_value_byte_other_than_space_and_tab() {
        for b in all_bytes() {
            assert_eq!(is_visible_value_byte(b), (0x21..=0x7e).contains(&b) || b >= 0x80, "{b:#04x}");
        }
    }

    #[test]
    fn a_quotable_byte_is_printable_ascii_or_space_but_no_quote_or_backslash() {
        for b in all_bytes() {
            assert_eq!(is_quotable_byte(b), (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\', "{b:#04x}");
        }
    }

    #[test]
    fn a_header_name_is_a_token_in_lower_case() {
        assert_eq!(header_name("X-Workspace_Email.v1!#$%&'*+^`|~").as_deref(), Ok("x-workspace_email.v1!#$%&'*+^`|~"));
        for refused in ["", "x y", "x:y", ":path", "x\"y", "x(y)", "x/y", "x@y", "é", "x\ty", "x\0"] {
            assert!(header_name(refused).is_err(), "{refused:?}");
        }
        assert_eq!(header_name("x y"), Err("`x y` is not a valid header name".to_owned()));
    }
}
