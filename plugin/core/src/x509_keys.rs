//! Keys published as a map from key id to X.509 certificate (PEM), the form Google
//! uses at `https://www.googleapis.com/service_accounts/v1/metadata/x509/ACCOUNT`,
//! and the only form in which Chat's signer `chat@system.gserviceaccount.com`
//! publishes its keys.
//!
//! Only each certificate's public key is taken: an RSA key (RS256) or a P-256 key
//! (ES256), imported with the same bounds as a JWK. The certificates are Google's own
//! self-signed wrappers; what vouches for them is the TLS connection they were
//! fetched over, as with a JWKS, so neither their signature nor their validity dates
//! are checked (Google's client libraries read them the same way).

use crate::config::Algorithm;
use crate::jwks::{KeySet, has_key_for};
use crate::jwk::VerifyingKey;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use wsgate_signatures::es256::Es256Key;
use wsgate_signatures::rs256::Rs256Key;
use der::asn1::{AnyRef, ObjectIdentifier, UintRef};
use der::{Decode, Reader, SliceReader, Tag, TagNumber};
use spki::SubjectPublicKeyInfoRef;

/// rsaEncryption (RFC 8017 appendix C).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey and the P-256 curve (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The most certificates one map may hold: Google's hold two or three.
const MAX_CERTIFICATES: usize = 64;

/// Parses a fetched certificate map (`{"kid": "-----BEGIN CERTIFICATE-----…"}`). One
/// bad entry refuses the whole map, as for a JWKS; the error is one line for the log.
pub fn parse_certificate_map(body: &[u8], algorithms: &[Algorithm]) -> Result<KeySet, String> {
    let document: Value = serde_json::from_slice(body).map_err(|e| format!("the certificate map is not JSON: {e}"))?;
    let Value::Object(entries) = document else {
        return Err("the certificate map must be a JSON object from key id to PEM certificate".to_owned());
    };
    if entries.is_empty() || entries.len() > MAX_CERTIFICATES {
        return Err(format!("the certificate map must hold between 1 and {MAX_CERTIFICATES} certificates"));
    }
    let mut keys = KeySet::new();
    for (kid, pem) in &entries {
        let pem = pem.as_str().ok_or_else(|| format!("`{kid}`: must be a PEM certificate as a string"))?;
        let key = certificate_key(pem).map_err(|e| format!("`{kid}`: {e}"))?;
        keys.insert(kid.clone(), key);
    }
    if has_key_for(&keys, algorithms) {
        Ok(keys)
    } else {
        Err("the certificate map holds no key for the provider's algorithms".to_owned())
    }
}

/// The public key of one PEM certificate.
pub fn certificate_key(pem: &str) -> Result<VerifyingKey, String> {
    let der = pem_certificate(pem).ok_or("not a PEM X.509 certificate")?;
    let info = subject_public_key_info(&der).map_err(|e| format!("not a PEM X.509 certificate: {e}"))?;
    let key_bits = info.subject_public_key.as_bytes().ok_or("the public key is not a whole number of bytes")?;
    if info.algorithm.oid == RSA_ENCRYPTION {
        rsa_key(key_bits).map_err(|e| format!("not a usable RS256 key: {e}"))
    } else if info.algorithm.oid == EC_PUBLIC_KEY {
        if info.algorithm.parameters_oid().ok() != Some(PRIME256V1) {
            return Err("an EC key must be on P-256".to_owned());
        }
        ec_key(key_bits).map_err(|e| format!("not a usable ES256 key: {e}"))
    } else {
        Err(format!("unsupported key algorithm {} (use RSA or P-256)", info.algorithm.oid))
    }
}

/// The DER inside a PEM certificate (RFC 7468 §5): the `CERTIFICATE` boundaries
/// alone on their lines, strict base64 between them. The crate's own base64 decoder
/// rather than a PEM crate: the .wasm carries one base64 implementation.
fn pem_certificate(pem: &str) -> Option<Vec<u8>> {
    let body = pem.trim().strip_prefix("-----BEGIN CERTIFICATE-----")?.strip_suffix("-----END CERTIFICATE-----")?;
    let base64: String = body.lines().map(str::trim_end).collect();
    STANDARD.decode(base64).ok().filter(|der| !der.is_empty())
}

/// The `subjectPublicKeyInfo` of a DER certificate (RFC 5280 §4.1), every other
/// field stepped over but read as DER: `Certificate ::= SEQUENCE { tbsCertificate
/// SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
/// subject, subjectPublicKeyInfo, … }, signatureAlgorithm, signatureValue }`.
fn subject_public_key_info(der: &[u8]) -> Result<SubjectPublicKeyInfoRef<'_>, der::Error> {
    let mut reader = SliceReader::new(der)?;
    let info = reader.sequence(|certificate| {
        let info = certificate.sequence(|tbs| {
            let version = Tag::ContextSpecific { constructed: true, number: TagNumber(0) };
            if Tag::peek(tbs)? == version {
                AnyRef::decode(tbs)?;
            }
            for _field in ["serialNumber", "signature", "issuer", "validity", "subject"] {
                AnyRef::decode(tbs)?;
            }
            let info = SubjectPublicKeyInfoRef::decode(tbs)?;
            while !tbs.is_finished() {
                AnyRef::decode(tbs)?;
            }
            Ok::<_, der::Error>(info)
        })?;
        AnyRef::decode(certificate)?;
        AnyRef::decode(certificate)?;
        Ok::<_, der::Error>(info)
    })?;
    reader.finish()?;
    Ok(info)
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_key(der: &[u8]) -> Result<VerifyingKey, String> {
    let mut reader = SliceReader::new(der).map_err(|e| e.to_string())?;
    let (n, e) = reader
        .sequence(|fields| Ok((UintRef::decode(fields)?.as_bytes().to_vec(), UintRef::decode(fields)?.as_bytes().to_vec())))
        .map_err(|e: der::Error| e.to_string())?;
    reader.finish().map_err(|e| e.to_string())?;
    let key = Rs256Key::from_components(&n, &e).map_err(|e| e.to_string())?;
    Ok(VerifyingKey::Rs256(Box::new(key)))
}

/// An uncompressed point, `04 || x || y`.
fn ec_key(point: &[u8]) -> Result<VerifyingKey, String> {
    match point {
        [4, coordinates @ ..] if coordinates.len() == 64 => {
            let (x, y) = coordinates.split_at(32);
            Es256Key::from_coordinates(x, y).map(VerifyingKey::Es256).map_err(|e| e.to_string())
        }
        _ => Err("the point must be uncompressed, 65 bytes".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mint::TestKeys;
    use crate::mint_x509::certificate_pem;
    use serde_json::json;

    fn map(entries: &[(&str, String)]) -> Vec<u8> {
        let object: serde_json::Map<String, Value> = entries.iter().map(|(kid, pem)| ((*kid).to_owned(), Value::String(pem.clone()))).collect();
        serde_json::to_vec(&object).unwrap()
    }

    #[test]
    fn a_certificate_map_yields_keys_that_verify_their_tokens() {
        let keys = TestKeys::shared();
        let pem = certificate_pem(&keys.rsa, "chat@system.gserviceaccount.com").unwrap();
        let set = parse_certificate_map(&map(&[("rsa-1", pem)]), &[Algorithm::RS256]).unwrap();
        let token = keys.rsa.sign(&json!({"iss": "chat@system.gserviceaccount.com"})).unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(set["rsa-1"].verify(input.as_bytes(), &signature));
        let rogue = keys.rogue_rsa.sign(&json!({"iss": "chat@system.gserviceaccount.com"})).unwrap();
        let (input, signature) = rogue.rsplit_once('.').unwrap();
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(!set["rsa-1"].verify(input.as_bytes(), &signature));
    }

    #[test]
    fn one_bad_entry_refuses_the_map() {
        let pem = certificate_pem(&TestKeys::shared().rsa, "signer").unwrap();
        let truncated = pem[..pem.len() / 2].to_owned();
        let error = parse_certificate_map(&map(&[("good", pem.clone()), ("bad", truncated)]), &[Algorithm::RS256]).unwrap_err();
        assert!(error.starts_with("`bad`: not a PEM X.509 certificate"), "{error}");
        assert!(parse_certificate_map(b"[]", &[Algorithm::RS256]).unwrap_err().contains("JSON object"));
        assert!(parse_certificate_map(b"{}", &[Algorithm::RS256]).unwrap_err().contains("between 1 and"));
        assert!(parse_certificate_map(br#"{"k": 7}"#, &[Algorithm::RS256]).unwrap_err().contains("as a string"));
        assert!(parse_certificate_map(b"not json", &[Algorithm::RS256]).unwrap_err().contains("not JSON"));
    }

    #[test]
    fn a_map_without_a_key_for_the_algorithms_is_refused() {
        let pem = certificate_pem(&TestKeys::shared().rsa, "signer").unwrap();
        let error = parse_certificate_map(&map(&[("rsa-1", pem)]), &[Algorithm::ES256]).unwrap_err();
        assert!(error.contains("no key for the provider's algorithms"), "{error}");
    }
}
