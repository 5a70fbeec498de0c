//! Self-signed X.509 certificates for test RSA keys, in the PEM form Google's
//! certificate maps hold: what the Google stand-in publishes for Chat's signer.
//!
//! Written with a minimal DER encoder, because x509-cert builds certificates only
//! with its `builder` feature and a signature stack the filter must not carry.

use crate::mint::SigningKey;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_simple::algorithms::RSAKeyPairLike;
use jwt_simple::prelude::RS256KeyPair;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
const VERSION_TAG: u8 = 0xa0;
/// 1.2.840.113549.1.1.1 and 1.2.840.113549.1.1.11.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const SHA256_WITH_RSA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// 2.5.4.3, commonName.
const COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];

/// A PEM certificate for an RS256 key, subject and issuer `common_name`, signed by
/// the key itself, valid for 2020–2049.
pub fn certificate_pem(key: &SigningKey, common_name: &str) -> Result<String, String> {
    let SigningKey::Rs256(pair) = key else {
        return Err("certificates are minted for RSA keys only".to_owned());
    };
    let name = tlv(SEQUENCE, &tlv(SET, &tlv(SEQUENCE, &[tlv(OID, &COMMON_NAME), tlv(UTF8_STRING, common_name.as_bytes())].concat())));
    let algorithm = tlv(SEQUENCE, &[tlv(OID, &SHA256_WITH_RSA), tlv(NULL, &[])].concat());
    let validity = tlv(SEQUENCE, &[tlv(UTC_TIME, b"200101000000Z"), tlv(UTC_TIME, b"491231235959Z")].concat());
    let tbs = tlv(SEQUENCE, &[
        tlv(VERSION_TAG, &tlv(INTEGER, &[2])),
        tlv(INTEGER, &[1]),
        algorithm.clone(),
        name.clone(),
        validity,
        name,
        public_key_info(key)?,
    ].concat());
    let signature = sign(pair, &tbs)?;
    let certificate = tlv(SEQUENCE, &[tbs, algorithm, bit_string(&signature)].concat());
    Ok(pem(&certificate))
}

fn public_key_info(key: &SigningKey) -> Result<Vec<u8>, String> {
    let jwk = key.public_jwk();
    let member = |name: &str| jwk[name].as_str().and_then(|text| URL_SAFE_NO_PAD.decode(text).ok()).ok_or(format!("the key has no `{name}`"));
    let rsa_public_key = tlv(SEQUENCE, &[unsigned(&member("n")?), unsigned(&member("e")?)].concat());
    let algorithm = tlv(SEQUENCE, &[tlv(OID, &RSA_ENCRYPTION), tlv(NULL, &[])].concat());
    Ok(tlv(SEQUENCE, &[algorithm, bit_string(&rsa_public_key)].concat()))
}

fn sign(pair: &RS256KeyPair, message: &[u8]) -> Result<Vec<u8>, String> {
    use superboring::{hash::MessageDigest, pkey::PKey, rsa::Padding, sign::Signer};
    let pkey = PKey::from_rsa(pair.key_pair().as_ref().clone()).map_err(|e| e.to_string())?;
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).map_err(|e| e.to_string())?;
    signer.set_rsa_padding(Padding::PKCS1).map_err(|e| e.to_string())?;
    signer.update(message).map_err(|e| e.to_string())?;
    signer.sign_to_vec().map_err(|e| e.to_string())
}

/// A DER INTEGER from big-endian magnitude bytes: a leading zero keeps it positive.
fn unsigned(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    let mut content = if trimmed.first().is_none_or(|&b| b >= 0x80) { vec![0] } else { Vec::new() };
    content.extend(trimmed);
    tlv(INTEGER, &content)
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(BIT_STRING, &[&[0][..], bytes].concat())
}

/// Tag, DER length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        len @ 0..=127 => out.push(len as u8),
        len => {
            let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
    }
    out.extend_from_slice(content);
    out
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|chunk| std::str::from_utf8(chunk).unwrap_or_default()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}
