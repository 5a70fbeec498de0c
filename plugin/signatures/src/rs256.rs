//! RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017 §8.2.2) verification on
//! fixed-size 32-bit-limb arithmetic, the fastest well-kept way to do it inside wasm.
//!
//! Why not the RSA crate behind jwt-simple: wasm has no 64×64→128-bit multiply, so
//! heap big numbers on 64-bit digits pay a software routine per product; crypto-bigint's
//! fixed-size `Uint`s use the target's native 32-bit words and never allocate. We own
//! only the encoding check (EMSA-PKCS1-v1_5, compared as a whole block, so there is no
//! parser to fool), and that is tested against Wycheproof and against jwt-simple.
//!
//! Key sizes: Google signs with 2048-bit keys and e = 65537. As jwt-simple did, any
//! modulus from 2048 to 4096 bits is accepted and the exponent must be 65537, so a
//! verification is 16 squarings and one product. Exactly 2048 bits run in 2048-bit
//! arithmetic; anything longer in 4096-bit arithmetic (slower, but rare, and one
//! instance less for V8 to compile at start-up).

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U2048, U4096, Uint};
use sha2::{Digest, Sha256};

const MIN_MODULUS_BITS: usize = 2048;
const MAX_MODULUS_BITS: usize = 4096;
const PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// DER of `DigestInfo { sha256, NULL }` without the digest (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
];

/// Why a modulus and exponent are not an RS256 key we verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyImportError {
    /// Fewer than 2048 significant bits.
    ModulusTooShort,
    /// More than 4096 significant bits.
    ModulusTooLong,
    /// An even modulus is not an RSA modulus.
    ModulusEven,
    /// Anything but 65537.
    ExponentNotF4,
}

impl std::fmt::Display for KeyImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyImportError::ModulusTooShort => "the modulus is shorter than 2048 bits",
            KeyImportError::ModulusTooLong => "the modulus is longer than 4096 bits",
            KeyImportError::ModulusEven => "the modulus is even",
            KeyImportError::ExponentNotF4 => "the exponent must be 65537",
        })
    }
}

/// An RS256 public key, its Montgomery parameters computed once at import.
#[derive(Clone)]
pub struct Rs256Key {
    modulus: Modulus,
    /// `k` of RFC 8017: the modulus's length in bytes, and so every signature's.
    length: usize,
}

#[derive(Clone)]
enum Modulus {
    Bits2048(Box<FixedMontyParams<{ U2048::LIMBS }>>),
    UpTo4096(Box<FixedMontyParams<{ U4096::LIMBS }>>),
}

impl Rs256Key {
    /// Imports big-endian `n` and `e` (leading zero bytes allowed, as some encoders
    /// write them).
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self, KeyImportError> {
        let n = trim_leading_zeros(n);
        let bits = bit_length(n);
        if bits < MIN_MODULUS_BITS {
            return Err(KeyImportError::ModulusTooShort);
        }
        if bits > MAX_MODULUS_BITS {
            return Err(KeyImportError::ModulusTooLong);
        }
        if trim_leading_zeros(e) != PUBLIC_EXPONENT {
            return Err(KeyImportError::ExponentNotF4);
        }
        let modulus = if bits == MIN_MODULUS_BITS {
            Modulus::Bits2048(Box::new(params(n)?))
        } else {
            Modulus::UpTo4096(Box::new(params(n)?))
        };
        Ok(Self { modulus, length: n.len() })
    }

    /// Whether `signature` is this key's RS256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // RFC 8017 §8.2.2 step 1: exactly k bytes, no more, no fewer.
        if signature.len() != self.length {
            return false;
        }
        let expected = encoded_message(&Sha256::digest(message), self.length);
        match &self.modulus {
            Modulus::Bits2048(params) => recovered_matches(params, signature, &expected),
            Modulus::UpTo4096(params) => recovered_matches(params, signature, &expected),
        }
    }
}

impl std::fmt::Debug for Rs256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rs256Key({} bytes)", self.length)
    }
}

fn params<const LIMBS: usize>(n: &[u8]) -> Result<FixedMontyParams<LIMBS>, KeyImportError> {
    let modulus = Odd::new(uint_from_be::<LIMBS>(n)).into_option().ok_or(KeyImportError::ModulusEven)?;
    Ok(FixedMontyParams::new_vartime(modulus))
}

/// `s^65537 mod n` (RSAVP1) compared with the expected encoding; `s ≥ n` is refused
/// (step 2.b of §8.2.2: the signature representative must be below the modulus).
fn recovered_matches<const LIMBS: usize>(params: &FixedMontyParams<LIMBS>, signature: &[u8], expected: &[u8]) -> bool {
    let s = uint_from_be::<LIMBS>(signature);
    if &s >= params.modulus().as_ref() {
        return false;
    }
    let base = FixedMontyForm::new(&s, params);
    // 65537 = 2^16 + 1: sixteen squarings and one product. Public data only, so
    // variable time is fine.
    let m = base.square_repeat_vartime(16).mul(&base).retrieve();
    let bytes = m.to_be_bytes();
    let bytes: &[u8] = bytes.as_ref();
    let (high, low) = bytes.split_at(bytes.len() - expected.len());
    high.iter().all(|&b| b == 0) && low == expected
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): `00 01 FF…FF 00 DigestInfo hash`, `length` bytes.
fn encoded_message(hash: &[u8], length: usize) -> Vec<u8> {
    let suffix = SHA256_DIGEST_INFO.len() + hash.len();
    let mut block = vec![0xff; length];
    block[0] = 0x00;
    block[1] = 0x01;
    block[length - suffix - 1] = 0x00;
    block[length - suffix..length - hash.len()].copy_from_slice(&SHA256_DIGEST_INFO);
    block[length - hash.len()..].copy_from_slice(hash);
    block
}

/// Big-endian bytes (at most `Uint::<LIMBS>::BYTES`; callers check) into a `Uint`.
fn uint_from_be<const LIMBS: usize>(bytes: &[u8]) -> Uint<LIMBS> {
    let mut padded = vec![0u8; Uint::<LIMBS>::BYTES];
    let start = padded.len().saturating_sub(bytes.len());
    padded[start..].copy_from_slice(&bytes[bytes.len().saturating_sub(Uint::<LIMBS>::BYTES)..]);
    Uint::from_be_slice(&padded)
}

fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn bit_length(trimmed: &[u8]) -> usize {
    trimmed.first().map_or(0, |&top| trimmed.len() * 8 - top.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modulus(bits: usize) -> Vec<u8> {
        let mut n = vec![0xc5; bits.div_ceil(8)];
        n[0] = 0x80 >> ((8 - bits % 8) % 8);
        *n.last_mut().unwrap() |= 1;
        n
    }

    #[test]
    fn sizes_from_2048_to_4096_bits_with_e_65537_are_imported() {
        for bits in [2048, 2049, 3072, 3073, 4096] {
            let key = Rs256Key::from_components(&modulus(bits), &[1, 0, 1]).unwrap();
            assert_eq!(key.length, bits.div_ceil(8), "{bits}");
        }
        let mut with_zero = vec![0];
        with_zero.extend(modulus(2048));
        assert!(Rs256Key::from_components(&with_zero, &[0, 1, 0, 1]).is_ok());
    }

    #[test]
    fn short_long_even_and_other_exponents_are_refused() {
        assert_eq!(Rs256Key::from_components(&modulus(2047), &[1, 0, 1]).unwrap_err(), KeyImportError::ModulusTooShort);
        assert_eq!(Rs256Key::from_components(&modulus(4097), &[1, 0, 1]).unwrap_err(), KeyImportError::ModulusTooLong);
        let mut even = modulus(2048);
        *even.last_mut().unwrap() &= 0xfe;
        assert_eq!(Rs256Key::from_components(&even, &[1, 0, 1]).unwrap_err(), KeyImportError::ModulusEven);
        assert_eq!(Rs256Key::from_components(&modulus(2048), &[3]).unwrap_err(), KeyImportError::ExponentNotF4);
    }

    #[test]
    fn the_encoding_is_the_rfc_8017_block() {
        let block = encoded_message(&[0xab; 32], 256);
        assert_eq!(&block[..3], &[0x00, 0x01, 0xff]);
        assert_eq!(block[256 - 51 - 1], 0x00);
        assert!(block[2..256 - 51 - 1].iter().all(|&b| b == 0xff));
        assert_eq!(&block[256 - 51..256 - 32], &SHA256_DIGEST_INFO);
    }

    #[test]
    fn a_signature_of_the_wrong_length_or_at_least_the_modulus_is_refused() {
        let n = modulus(2048);
        let key = Rs256Key::from_components(&n, &[1, 0, 1]).unwrap();
        assert!(!key.verify(b"m", &n[1..]));
        assert!(!key.verify(b"m", &n));
        assert!(!key.verify(b"m", &[0xff; 256]));
    }
}
