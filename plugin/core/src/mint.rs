//! Key generation and token signing for the `wsgate` CLI and the tests.
//!
//! Compiled only with the `mint` feature (and in this crate's own tests): the filter
//! verifies tokens, it never signs them.

use jwt_simple::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// A private signing key with its `kid`.
pub enum SigningKey {
    Rs256(Box<RS256KeyPair>),
    Es256(Box<ES256KeyPair>),
}

impl SigningKey {
    /// A new 2048-bit RSA key, the size Google uses for ID tokens.
    pub fn generate_rs256(kid: &str) -> Result<Self, String> {
        RS256KeyPair::generate(2048)
            .map(|key| SigningKey::Rs256(Box::new(key.with_key_id(kid))))
            .map_err(|e| format!("cannot generate an RSA key: {e}"))
    }

    /// A new P-256 key, the kind IAP signs its assertions with.
    pub fn generate_es256(kid: &str) -> Self {
        SigningKey::Es256(Box::new(ES256KeyPair::generate().with_key_id(kid)))
    }

    /// Reads a private JWK as written by [`SigningKey::to_private_jwk`].
    pub fn from_private_jwk(jwk: &str) -> Result<Self, String> {
        let kty = serde_json::from_str::<Value>(jwk)
            .map_err(|e| format!("the key file is not JSON: {e}"))?
            .get("kty")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match kty.as_deref() {
            Some("RSA") => RS256KeyPair::from_jwk(jwk).map(|key| SigningKey::Rs256(Box::new(key))),
            Some("EC") => ES256KeyPair::from_jwk(jwk).map(|key| SigningKey::Es256(Box::new(key))),
            _ => return Err("the key file needs `kty` RSA or EC".to_owned()),
        }
        .map_err(|e| format!("the key file is not a usable private key: {e}"))
    }

    pub fn to_private_jwk(&self) -> String {
        match self {
            SigningKey::Rs256(key) => key.to_jwk(),
            SigningKey::Es256(key) => key.to_jwk(),
        }
    }

    pub fn public_jwk(&self) -> Value {
        let text = match self {
            SigningKey::Rs256(key) => key.public_key().to_jwk(),
            SigningKey::Es256(key) => key.public_key().to_jwk(),
        };
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Signs a JSON object of claims. `iss`, `sub`, `aud`, `iat`, `exp` and `nbf` are
    /// written exactly as given (or left out when absent), so tests can make tokens
    /// that are wrong in any one way.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let claims = to_jwt_claims(claims)?;
        match self {
            SigningKey::Rs256(key) => key.sign(claims),
            SigningKey::Es256(key) => key.sign(claims),
        }
        .map_err(|e| format!("cannot sign: {e}"))
    }
}

/// Signs `header` and `payload` exactly as given — any JSON, any bytes — with the RSA
/// key's RS256: for tokens that are malformed on purpose (duplicate members, floats
/// for times, `crit`, `jku`…), which the claims-based [`SigningKey::sign`] cannot write.
pub fn sign_rs256_raw(key: &RS256KeyPair, header: &str, payload: &[u8]) -> Result<String, String> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use superboring::{hash::MessageDigest, pkey::PKey, rsa::Padding, sign::Signer};
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let pkey = PKey::from_rsa(key.key_pair().as_ref().clone()).map_err(|e| e.to_string())?;
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).map_err(|e| e.to_string())?;
    signer.set_rsa_padding(Padding::PKCS1).map_err(|e| e.to_string())?;
    signer.update(input.as_bytes()).map_err(|e| e.to_string())?;
    let signature = signer.sign_to_vec().map_err(|e| e.to_string())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// A JWKS document holding the public halves of `keys`.
pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.public_jwk()).collect::<Vec<_>>() })
}

fn to_jwt_claims(claims: &Value) -> Result<JWTClaims<Map<String, Value>>, String> {
    let Value::Object(object) = claims else {
        return Err("claims must be a JSON object".to_owned());
    };
    let mut custom = object.clone();
    let mut out = Claims::with_custom_claims(Map::new(), Duration::from_secs(0));
    out.issued_at = take_time(&mut custom, "iat")?;
    out.expires_at = take_time(&mut custom, "exp")?;
    out.invalid_before = take_time(&mut custom, "nbf")?;
    out.issuer = take_string(&mut custom, "iss");
    out.subject = take_string(&mut custom, "sub");
    out.audiences = take_string(&mut custom, "aud").map(Audiences::AsString);
    out.custom = custom;
    Ok(out)
}

fn take_time(claims: &mut Map<String, Value>, name: &str) -> Result<Option<UnixTimeStamp>, String> {
    match claims.remove(name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .map(|secs| Some(Duration::from_secs(secs)))
            .ok_or(format!("`{name}` must be a whole number of seconds")),
    }
}

fn take_string(claims: &mut Map<String, Value>, name: &str) -> Option<String> {
    claims.remove(name).and_then(|v| v.as_str().map(str::to_owned))
}

/// Keys made once per test process: generating RSA keys is the slowest thing the
/// tests do.
pub struct TestKeys {
    /// `kid` "rsa-1", published in [`TestKeys::jwks`].
    pub rsa: SigningKey,
    /// `kid` "ec-1", published in [`TestKeys::jwks`].
    pub ec: SigningKey,
    /// Also claims `kid` "rsa-1", but is not the published key: a forger.
    pub rogue_rsa: SigningKey,
}

impl TestKeys {
    pub fn shared() -> &'static TestKeys {
        static KEYS: OnceLock<TestKeys> = OnceLock::new();
        KEYS.get_or_init(|| TestKeys {
            rsa: generate_test_rsa("rsa-1"),
            ec: SigningKey::generate_es256("ec-1"),
            rogue_rsa: generate_test_rsa("rsa-1"),
        })
    }

    pub fn jwks(&self) -> Value {
        jwks(&[&self.rsa, &self.ec])
    }
}

#[allow(clippy::panic)] // test-only keys: without them no test can run
fn generate_test_rsa(kid: &str) -> SigningKey {
    SigningKey::generate_rs256(kid).unwrap_or_else(|e| panic!("{e}"))
}
