//! Proof Key for Code Exchange (RFC 7636) with S256, and the random values of a
//! sign-in, from entropy the caller draws: `state` (bound to its flow's cookie),
//! `nonce` (bound into the ID token) and the code verifier.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A code verifier from 32 random bytes: 43 base64url characters, within RFC 7636's
/// 43–128 of the unreserved alphabet.
pub fn verifier(random: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// The S256 challenge for `verifier`: `BASE64URL(SHA256(verifier))`.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An opaque value (`state`, `nonce`) from 16 random bytes.
pub fn token(random: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_appendix_b_example() {
        let random = [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121];
        let verifier = verifier(&random);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(challenge(&verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn opaque_values_are_url_safe() {
        assert_eq!(token(&[0xff; 16]), "_____________________w");
    }
}
