//! One JSON Web Key (RFC 7517, RFC 7518 §6) into a key that verifies exactly one
//! algorithm.
//!
//! As strict as jwt-simple's import, which it replaces on the request path: the right
//! `kty` and `crv`, no private or foreign key material, `alg`, `use` and `key_ops`
//! consistent with verifying that algorithm, base64url without padding. A key we
//! half-understand is a key we may verify wrongly.

use crate::config::Algorithm;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use wsgate_signatures::es256::Es256Key;
use wsgate_signatures::rs256::Rs256Key;

/// Every member that carries key material, of any key type (RFC 7518 §6, RFC 8037).
const MATERIAL_MEMBERS: [&str; 13] = ["crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JWK's serialised size beyond which it is refused, as jwt-simple did.
const MAX_JWK_BYTES: usize = 8192;

/// A public key that verifies exactly one algorithm.
#[derive(Debug, Clone)]
pub enum VerifyingKey {
    // Boxed: the Montgomery parameters of an RSA key are several times an EC key.
    Rs256(Box<Rs256Key>),
    Es256(Es256Key),
}

impl VerifyingKey {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            VerifyingKey::Rs256(_) => Algorithm::RS256,
            VerifyingKey::Es256(_) => Algorithm::ES256,
        }
    }

    /// Whether `signature` (raw bytes, JOSE form) signs `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyingKey::Rs256(key) => key.verify(message, signature),
            VerifyingKey::Es256(key) => key.verify(message, signature),
        }
    }
}

/// Imports one signature key; `kty` decides which.
pub fn import(key: &Map<String, Value>) -> Result<VerifyingKey, String> {
    match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => import_rsa(key).map_err(|e| format!("not a usable RS256 key: {e}")),
        Some("EC") => import_ec(key).map_err(|e| format!("not a usable ES256 (P-256) key: {e}")),
        Some(other) => Err(format!("unsupported kty `{other}` (use RSA or EC)")),
        None => Err("needs a `kty`".to_owned()),
    }
}

fn import_rsa(key: &Map<String, Value>) -> Result<VerifyingKey, String> {
    check_members(key, &["n", "e"], "RS256")?;
    let rsa = Rs256Key::from_components(&member_bytes(key, "n")?, &member_bytes(key, "e")?).map_err(|e| e.to_string())?;
    Ok(VerifyingKey::Rs256(Box::new(rsa)))
}

fn import_ec(key: &Map<String, Value>) -> Result<VerifyingKey, String> {
    if key.get("crv").and_then(Value::as_str) != Some("P-256") {
        return Err("`crv` must be `P-256`".to_owned());
    }
    check_members(key, &["crv", "x", "y"], "ES256")?;
    let ec = Es256Key::from_coordinates(&member_bytes(key, "x")?, &member_bytes(key, "y")?).map_err(|e| e.to_string())?;
    Ok(VerifyingKey::Es256(ec))
}

/// The members beside the key material: only this type's public material, and
/// `alg`, `use`, `key_ops` that allow verifying with `algorithm`.
fn check_members(key: &Map<String, Value>, public: &[&str], algorithm: &str) -> Result<(), String> {
    if serde_json::to_vec(key).map_or(usize::MAX, |json| json.len()) > MAX_JWK_BYTES {
        return Err(format!("longer than {MAX_JWK_BYTES} bytes"));
    }
    if let Some(foreign) = key.keys().find(|name| MATERIAL_MEMBERS.contains(&name.as_str()) && !public.contains(&name.as_str())) {
        return Err(format!("`{foreign}` does not belong in a public {algorithm} key"));
    }
    match key.get("alg") {
        None => {}
        Some(Value::String(alg)) if alg == algorithm => {}
        Some(_) => return Err(format!("`alg` must be `{algorithm}`")),
    }
    match key.get("use") {
        None => {}
        Some(Value::String(key_use)) if key_use == "sig" => {}
        Some(_) => return Err("`use` must be `sig`".to_owned()),
    }
    check_key_ops(key.get("key_ops"))
}

/// `key_ops`, when present, may only say `verify`, once.
fn check_key_ops(key_ops: Option<&Value>) -> Result<(), String> {
    match key_ops {
        None => Ok(()),
        Some(Value::Array(ops)) if ops.len() <= 1 && ops.iter().all(|op| op == "verify") => Ok(()),
        Some(_) => Err("`key_ops` may only hold `verify`".to_owned()),
    }
}

fn member_bytes(key: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let text = key.get(name).and_then(Value::as_str).ok_or_else(|| format!("needs `{name}` as a string"))?;
    URL_SAFE_NO_PAD.decode(text).map_err(|_| format!("`{name}` is not base64url without padding"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mint::TestKeys;
    use serde_json::json;

    fn key(index: usize) -> Map<String, Value> {
        TestKeys::shared().jwks()["keys"][index].as_object().unwrap().clone()
    }

    fn refused(mut key: Map<String, Value>, name: &str, value: Value) -> String {
        key.insert(name.to_owned(), value);
        import(&key).unwrap_err()
    }

    #[test]
    fn the_test_keys_import_with_their_algorithms() {
        assert_eq!(import(&key(0)).unwrap().algorithm(), Algorithm::RS256);
        assert_eq!(import(&key(1)).unwrap().algorithm(), Algorithm::ES256);
    }

    #[test]
    fn private_or_foreign_material_is_refused() {
        assert!(refused(key(0), "d", json!("AQAB")).contains("`d` does not belong"));
        assert!(refused(key(1), "d", json!("AQAB")).contains("`d` does not belong"));
        assert!(refused(key(1), "n", json!("AQAB")).contains("`n` does not belong"));
        assert!(refused(key(0), "k", json!("AQAB")).contains("`k` does not belong"));
    }

    #[test]
    fn alg_use_and_key_ops_must_allow_verifying_that_algorithm() {
        assert!(refused(key(0), "alg", json!("RS384")).contains("`alg` must be `RS256`"));
        assert!(refused(key(1), "alg", json!("RS256")).contains("`alg` must be `ES256`"));
        assert!(refused(key(0), "use", json!("enc ")).contains("`use`"));
        assert!(refused(key(0), "key_ops", json!(["sign"])).contains("key_ops"));
        assert!(refused(key(0), "key_ops", json!(["verify", "verify"])).contains("key_ops"));
        let mut fine = key(0);
        fine.insert("key_ops".to_owned(), json!(["verify"]));
        assert!(import(&fine).is_ok());
    }

    #[test]
    fn curves_and_encodings_are_checked() {
        assert!(refused(key(1), "crv", json!("P-384")).contains("P-256"));
        assert!(refused(key(0), "n", json!("AQAB=")).contains("base64url"));
        assert!(refused(key(0), "e", json!("Aw")).contains("65537"));
        assert!(refused(key(1), "x", json!("AQAB")).contains("32 bytes"));
    }
}
