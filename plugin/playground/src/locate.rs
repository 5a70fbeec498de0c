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

/// One segment down: `[n]` into an array, or the longest key of an object the path
/// starts with (emails as directory keys have dots of their own).
fn step<'a, 'p>(value: &'a RawValue, path: &'p str) -> Option<(&'a RawValue, &'p str)> {
    if path.is_empty() {
        return None;
    }
    if let Some(inside) = path.strip_prefix('[') {
        let (index, after) = inside.split_once(']')?;
        let items: Vec<&'a RawValue> = serde_json::from_str(value.get()).ok()?;
        return Some((*items.get(index.parse::<usize>().ok()?)?, after));
    }
    let fields: BTreeMap<String, &'a RawValue> = serde_json::from_str(value.get()).ok()?;
    let ends_segment = |key: &str| path.strip_prefix(key).is_some_and(|after| after.is_empty() || after.starts_with(['.', '[']));
    let key = fields.keys().filter(|key| ends_segment(key)).max_by_key(|key| key.len())?;
    Some((fields[key.as_str()], &path[key.len()..]))
}

/// `part` is a slice of `text` (the parser borrows); its place, whitespace trimmed.
fn span_of(text: &str, part: &str) -> Span {
    let trimmed = part.trim();
    let start = (trimmed.as_ptr() as usize).saturating_sub(text.as_ptr() as usize).min(text.len());
    let end = (start + trimmed.len()).min(text.len());
    Span { start: utf16_len(&text[..start]), end: utf16_len(&text[..end]) }
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
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
    fn text_that_is_not_json_has_no_places() {
        assert_eq!(locate("{\"a\": ", "a"), None);
    }
}
