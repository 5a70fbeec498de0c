//! Turns a JWKS document (RFC 7517) into verification keys indexed by `kid`.
//!
//! Each key is imported strictly by `jwk` (short RSA moduli, other exponents, private
//! material and an `alg` that contradicts the key's type are refused); a document
//! with one bad key is refused whole.

use crate::config::Algorithm;
pub use crate::jwk::VerifyingKey;
use serde_json::Value;
use std::collections::HashMap;

/// Keys by `kid`.
pub type KeySet = HashMap<String, VerifyingKey>;

/// What is wrong with one key of a JWKS, with its index in `keys`.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyError {
    /// `None` when the document itself is wrong, not one key.
    pub index: Option<usize>,
    pub message: String,
}

/// Parses a JWKS given either as a JSON object or as a JSON string holding one.
/// Keys meant for encryption (`"use": "enc"`) are skipped; every other problem is
/// reported, so a config with one bad key is refused rather than half-loaded.
pub fn parse_jwks(document: &Value) -> Result<KeySet, Vec<KeyError>> {
    let parsed;
    let document = match document {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text)
                .map_err(|e| vec![document_error(format!("is not JSON: {e}"))])?;
            &parsed
        }
        other => other,
    };
    let Some(keys) = document.get("keys").and_then(Value::as_array) else {
        return Err(vec![document_error("must be an object with a `keys` array".to_owned())]);
    };
    let mut set = KeySet::new();
    let mut errors = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        match parse_key(key) {
            Ok(None) => {}
            Ok(Some((kid, _))) if set.contains_key(&kid) => errors.push(KeyError {
                index: Some(index),
                message: format!("duplicate kid `{kid}`"),
            }),
            Ok(Some((kid, verifying_key))) => {
                set.insert(kid, verifying_key);
            }
            Err(message) => errors.push(KeyError { index: Some(index), message }),
        }
    }
    if errors.is_empty() { Ok(set) } else { Err(errors) }
}

/// Parses a JWKS fetched from a provider's endpoint: the same strictness as a
/// configured one, and it must hold a key for one of the provider's `algorithms`.
/// The error is one line for the log.
pub fn parse_fetched_jwks(body: &[u8], algorithms: &[Algorithm]) -> Result<KeySet, String> {
    let document: Value = serde_json::from_slice(body).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let keys = parse_jwks(&document).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| e.index.map_or(e.message.clone(), |i| format!("keys[{i}]: {}", e.message)))
            .collect();
        lines.join("; ")
    })?;
    if has_key_for(&keys, algorithms) {
        Ok(keys)
    } else {
        Err("the JWKS holds no key for the provider's algorithms".to_owned())
    }
}

/// Whether `keys` can verify a token signed with one of `algorithms`.
pub fn has_key_for(keys: &KeySet, algorithms: &[Algorithm]) -> bool {
    keys.values().any(|key| algorithms.contains(&key.algorithm()))
}

fn document_error(message: String) -> KeyError {
    KeyError { index: None, message }
}

fn parse_key(key: &Value) -> Result<Option<(String, VerifyingKey)>, String> {
    let Some(members) = key.as_object() else {
        return Err("must be a JSON object".to_owned());
    };
    if members.get("use").and_then(Value::as_str) == Some("enc") {
        return Ok(None);
    }
    let kid = members
        .get("kid")
        .and_then(Value::as_str)
        .filter(|kid| !kid.is_empty())
        .ok_or("needs a `kid`: tokens pick their key by it")?
        .to_owned();
    Ok(Some((kid, crate::jwk::import(members)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mint::TestKeys;
    use serde_json::json;

    #[test]
    fn a_google_style_jwks_yields_one_key_per_kid() {
        let keys = TestKeys::shared();
        let set = parse_jwks(&keys.jwks()).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set["rsa-1"].algorithm(), Algorithm::RS256);
        assert_eq!(set["ec-1"].algorithm(), Algorithm::ES256);
    }

    #[test]
    fn a_jwks_given_as_a_json_string_is_accepted() {
        let keys = TestKeys::shared();
        let set = parse_jwks(&Value::String(keys.jwks().to_string())).unwrap();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn a_key_without_kid_is_refused_with_its_index() {
        let mut jwks = TestKeys::shared().jwks();
        jwks["keys"][1].as_object_mut().unwrap().remove("kid");
        let errors = parse_jwks(&jwks).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].index, Some(1));
        assert!(errors[0].message.contains("kid"));
    }

    #[test]
    fn duplicate_kids_are_refused() {
        let mut jwks = TestKeys::shared().jwks();
        jwks["keys"][1]["kid"] = json!("rsa-1");
        let errors = parse_jwks(&jwks).unwrap_err();
        assert!(errors[0].message.contains("duplicate kid `rsa-1`"), "{errors:?}");
    }

    #[test]
    fn a_symmetric_key_is_refused() {
        let jwks = json!({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]});
        let errors = parse_jwks(&jwks).unwrap_err();
        assert!(errors[0].message.contains("unsupported kty `oct`"));
    }

    #[test]
    fn an_rsa_key_with_a_mangled_modulus_is_refused() {
        let mut jwks = TestKeys::shared().jwks();
        jwks["keys"][0]["n"] = json!("AQAB");
        let errors = parse_jwks(&jwks).unwrap_err();
        assert!(errors[0].message.contains("RS256"), "{errors:?}");
    }

    #[test]
    fn encryption_keys_are_skipped_not_refused() {
        let jwks = json!({"keys": [{"kty": "RSA", "use": "enc", "kid": "e"}]});
        assert!(parse_jwks(&jwks).unwrap().is_empty());
    }

    #[test]
    fn a_fetched_jwks_must_parse_and_hold_a_key_for_the_providers_algorithms() {
        let body = TestKeys::shared().jwks().to_string();
        assert_eq!(parse_fetched_jwks(body.as_bytes(), &[Algorithm::RS256]).unwrap().len(), 2);
        let only_ec = json!({"keys": [TestKeys::shared().jwks()["keys"][1]]}).to_string();
        assert!(parse_fetched_jwks(only_ec.as_bytes(), &[Algorithm::RS256]).unwrap_err().contains("no key"));
        assert!(parse_fetched_jwks(b"<html>", &[Algorithm::RS256]).unwrap_err().contains("not JSON"));
        let bad = json!({"keys": [{"kty": "oct", "kid": "k"}]}).to_string();
        assert!(parse_fetched_jwks(bad.as_bytes(), &[Algorithm::RS256]).unwrap_err().starts_with("keys[0]: unsupported kty"));
    }

    #[test]
    fn a_document_without_keys_is_refused() {
        let errors = parse_jwks(&json!({"key": []})).unwrap_err();
        assert_eq!(errors[0].index, None);
    }
}
