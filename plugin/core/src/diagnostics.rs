//! Problems found in a configuration, and how they are collected: each names the field
//! it concerns (`providers[0].local_jwks.keys[1]: needs a kid`), and all of them are
//! reported together, so a user fixes a config in one pass. Settings, policy
//! compilation and lint all report through here.

use serde::de::DeserializeOwned;
use std::fmt;

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where, as `field[index].field`; empty for the document as a whole.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", lines.join("; "))
    }
}

impl std::error::Error for ConfigErrors {}

/// The problems found so far. Errors refuse the configuration; warnings do not, and
/// are for `wsgate validate` and the load log.
#[derive(Debug, Default)]
pub struct Diagnostics {
    /// Written before every path: `policy.` for the policy inside a plugin
    /// configuration, nothing for a document of its own.
    base: String,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

impl Diagnostics {
    /// A collector for the object at `base` (`"policy."`), or for a whole document (`""`).
    pub fn under(base: &str) -> Self {
        Diagnostics { base: base.to_owned(), ..Diagnostics::default() }
    }

    pub fn error(&mut self, path: impl AsRef<str>, message: impl Into<String>) {
        let error = self.at(path.as_ref(), message.into());
        self.errors.push(error);
    }

    pub fn warning(&mut self, path: impl AsRef<str>, message: impl Into<String>) {
        let warning = self.at(path.as_ref(), message.into());
        self.warnings.push(warning);
    }

    /// Adds what another collector found, paths as it wrote them.
    pub fn absorb(&mut self, other: Diagnostics) {
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }

    /// The empty path is the object at `base` itself: `policy`, not `policy.`.
    fn at(&self, path: &str, message: String) -> ConfigError {
        let path = match path {
            "" => self.base.trim_end_matches('.').to_owned(),
            path => format!("{}{path}", self.base),
        };
        ConfigError { path, message }
    }
}

/// Parses `json` as a `T`; the error names the field it is about.
pub fn from_json<T: DeserializeOwned>(json: &[u8]) -> Result<T, ConfigError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| ConfigError { path: field_path(e.path()), message: e.into_inner().to_string() })
}

/// serde_path_to_error writes the document itself as `.`; a [`ConfigError`] leaves it empty.
fn field_path(path: &serde_path_to_error::Path) -> String {
    match path.to_string() {
        root if root == "." => String::new(),
        path => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Doc {
        items: Vec<u8>,
    }

    #[test]
    fn paths_are_written_under_the_base_and_the_empty_path_is_the_base_itself() {
        let mut found = Diagnostics::under("policy.");
        found.error("rules[0].name", "bad");
        found.error("", "admits nobody");
        found.warning("rules.a", "never applies");
        let lines: Vec<String> = found.errors.iter().chain(&found.warnings).map(ToString::to_string).collect();
        assert_eq!(lines, ["policy.rules[0].name: bad", "policy: admits nobody", "policy.rules.a: never applies"]);
        let mut document = Diagnostics::under("");
        document.error("", "empty");
        assert_eq!(document.errors[0].to_string(), "empty");
    }

    #[test]
    fn a_json_error_names_its_field_and_a_document_error_names_none() {
        assert_eq!(from_json::<Doc>(br#"{"items": [1, 2]}"#).unwrap().items, [1, 2]);
        let error = from_json::<Doc>(br#"{"items": [1, "x"]}"#).unwrap_err();
        assert_eq!(error.path, "items[1]");
        let error = from_json::<Doc>(b"[").unwrap_err();
        assert_eq!(error.path, "");
        assert!(error.to_string().starts_with("EOF while parsing"), "{error}");
    }

    #[test]
    fn all_errors_show_on_one_line() {
        let errors = ConfigErrors(vec![ConfigError { path: "a".into(), message: "x".into() }, ConfigError { path: String::new(), message: "y".into() }]);
        assert_eq!(errors.to_string(), "a: x; y");
    }
}
