//! Where a field path (`policy.rules[2].match.paths[0]`, as errors name them) is in a
//! JSON text, so the page can point at it.

use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// A stretch of the text in UTF-16 code units, as a browser's text fields count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// The value at `path` in `text`, or the deepest value on the way when the rest of
/// the path is not in the text (an unknown field points at its object). `None` when
/// `text` is not JSON.
pub fn locate(text: &str, path: &str) -> Option<Span> {
    let mut current: &RawValue = serde_json::from_str(text).ok()?;
    let mut rest = path;
    while let Some((next, after)) = step(current, rest.strip_prefix('.').unwrap_or(rest)) {
        current = next;
        rest = after;
    }
    Some(span_of(text, current.get()))
}

/// One segment down: `[n]` into an array; in an array of named things (rules, as
/// warnings name them: `rules.admin`), the element of that name; in an object, the
/// longest key the path starts with (emails as directory keys have dots of their own).
fn step<'a, 'p>(value: &'a RawValue, path: &'p str) -> Option<(&'a RawValue, &'p str)> {
    if path.is_empty() {
        return None;
    }
    if let Some(inside) = path.strip_prefix('[') {
        let (index, after) = inside.split_once(']')?;
        let items: Vec<&'a RawValue> = serde_json::from_str(value.get()).ok()?;
        return Some((*items.get(index.parse::<usize>().ok()?)?, after));
    }
    let ends_segment = |key: &str| path.strip_prefix(key).is_some_and(|after| after.is_empty() || after.starts_with(['.', '[']));
    if let Ok(items) = serde_json::from_str::<Vec<&'a RawValue>>(value.get()) {
        let named = items.into_iter().filter_map(|item| Some((name_of(item)?, item)));
        let (name, item) = named.filter(|(name, _)| ends_segment(name)).max_by_key(|(name, _)| name.len())?;
        return Some((item, &path[name.len()..]));
    }
    let fields: BTreeMap<String, &'a RawValue> = serde_json::from_str(value.get()).ok()?;
    let key = fields.keys().filter(|key| ends_segment(key)).max_by_key(|key| key.len())?;
    Some((fields[key.as_str()], &path[key.len()..]))
}

/// The `name` of an object, if it has a string one.
fn name_of(item: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        name: String,
    }
    serde_json::from_str::<Named>(item.get()).ok().map(|named| named.name)
}

/// `part` is a slice of `text` (the parser borrows); its place, whitespace trimmed.
fn span_of(text: &str, part: &str) -> Span {
    let trimmed = part.trim();
    let start = (trimmed.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    Span { start: utf16_offset(text, start), end: utf16_offset(text, start + trimmed.len()) }
}

/// The UTF-16 offset of byte offset `byte` of `text` (the end, past it).
pub fn utf16_offset(text: &str, byte: usize) -> usize {
    text.get(..byte).unwrap_or(text).encode_utf16().count()
}

/// Where a JSON syntax error is: serde_json says `… at line L column C` (1-based,
/// columns in bytes); the one character there.
pub fn syntax_error_span(text: &str, message: &str) -> Option<Span> {
    let (_, place) = message.rsplit_once(" at line ")?;
    let (line, column) = place.split_once(" column ")?;
    let (line, column): (usize, usize) = (line.parse().ok()?, column.trim().parse().ok()?);
    let line_start: usize = text.split_inclusive('\n').take(line.checked_sub(1)?).map(str::len).sum();
    let at = (line_start + column.saturating_sub(1)).min(text.len());
    let start = utf16_offset(text, at);
    Some(Span { start, end: (start + 1).min(utf16_offset(text, text.len())) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str, path: &str) -> String {
        let span = locate(text, path).unwrap();
        let units: Vec<u16> = text.encode_utf16().collect();
        String::from_utf16_lossy(&units[span.start..span.end])
    }

    const TEXT: &str = r#"{
  "policy": {"rules": [ {"name": "a"}, {"name": "b", "match": {"paths": [{"prefix": "/x"}]}} ]},
  "directory": {"fin@example.com": ["fred@example.com"], "fin": ["nobody"]},
  "note": "é😀", "after": [1, 2]
}"#;

    #[test]
    fn finds_values_through_objects_and_arrays() {
        assert_eq!(shown(TEXT, "policy.rules[1].match.paths[0]"), r#"{"prefix": "/x"}"#);
        assert_eq!(shown(TEXT, "policy.rules[0]"), r#"{"name": "a"}"#);
        assert_eq!(shown(TEXT, ""), TEXT);
    }

    #[test]
    fn a_key_with_dots_is_one_segment() {
        assert_eq!(shown(TEXT, "directory.fin@example.com[0]"), r#""fred@example.com""#);
        assert_eq!(shown(TEXT, "directory.fin[0]"), r#""nobody""#);
    }

    #[test]
    fn offsets_count_utf16_units_as_browsers_do() {
        assert_eq!(shown(TEXT, "after[1]"), "2");
        assert_eq!(shown(TEXT, "note"), "\"é😀\"");
    }

    #[test]
    fn a_path_past_the_text_points_at_the_deepest_value_found() {
        assert_eq!(shown(TEXT, "policy.rules[0].match.hosts"), r#"{"name": "a"}"#);
        assert_eq!(shown(TEXT, "policy.rules[9]"), r#"[ {"name": "a"}, {"name": "b", "match": {"paths": [{"prefix": "/x"}]}} ]"#);
    }

    #[test]
    fn a_rule_named_in_a_warning_is_found_by_its_name() {
        assert_eq!(shown(TEXT, "policy.rules.b.match.paths[0]"), r#"{"prefix": "/x"}"#);
        assert_eq!(shown(TEXT, "policy.rules.a"), r#"{"name": "a"}"#);
    }

    #[test]
    fn a_syntax_error_points_at_its_line_and_column() {
        let text = "{\n  \"é\": 1,\n  \"b\" 2\n}";
        let message = serde_json::from_str::<serde_json::Value>(text).unwrap_err().to_string();
        let span = syntax_error_span(text, &message).unwrap();
        let units: Vec<u16> = text.encode_utf16().collect();
        assert_eq!(String::from_utf16_lossy(&units[span.start..span.end]), "2", "{message}");
    }

    #[test]
    fn text_that_is_not_json_has_no_places() {
        assert_eq!(locate("{\"a\": ", "a"), None);
    }
}
