//! ES256 (ECDSA on P-256 with SHA-256, RFC 7518 §3.4) verification on RustCrypto's
//! `p256` group arithmetic, with a table of multiples built once per key. IAP signs
//! its assertions this way, so an IAP-fronted service pays this per new assertion.
//!
//! Why a table: verifying computes `u1·G + u2·Q`, and `p256`'s verifier spends about
//! 256 doublings on it. A key's `Q` is public and long-lived, so we precompute
//! `j·16^i·Q` (`j` in 1..=8, `i` in 0..=64, about 50 KB per key) once, when the key is
//! imported, and the same for the generator `G` once per VM; then the sum is 130
//! additions and no doubling. (`p256`'s own generator table would do for `G`, but its
//! initialiser alone is 54 KB of code for V8 to compile at start-up.) Only public data
//! is involved, so variable time is fine. The equations are SEC 1 §4.1.4's; the whole
//! check is tested against Wycheproof and against jwt-simple (`p256`'s own verifier).

use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::{FieldBytes, NistP256, ProjectivePoint, Scalar};
use primeorder::{LookupTable, Radix16Decomposition, Radix16Digits};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};

/// Signed radix-16 digits of a 256-bit scalar: 64 nibbles and a carry digit.
const DIGITS: usize = 65;

/// Why coordinates are not a P-256 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyImportError {
    /// `x` or `y` is not exactly 32 bytes.
    CoordinateLength,
    /// The point is not on the curve (or is the identity).
    NotOnCurve,
}

impl std::fmt::Display for KeyImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyImportError::CoordinateLength => "`x` and `y` must be 32 bytes each",
            KeyImportError::NotOnCurve => "the point is not on P-256",
        })
    }
}

/// A P-256 public key and its table of multiples.
#[derive(Clone)]
pub struct Es256Key {
    key: VerifyingKey,
    /// `multiples[i]` holds `j·16^i·Q` for `j` in 1..=8; shared by clones.
    multiples: Arc<[LookupTable<ProjectivePoint>]>,
}

impl std::fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Es256Key({:?})", self.key)
    }
}

impl Es256Key {
    /// Imports the affine coordinates of a JWK (`x`, `y`; RFC 7518 §6.2.1).
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self, KeyImportError> {
        if x.len() != 32 || y.len() != 32 {
            return Err(KeyImportError::CoordinateLength);
        }
        let mut uncompressed = [0u8; 65];
        uncompressed[0] = 0x04;
        uncompressed[1..33].copy_from_slice(x);
        uncompressed[33..].copy_from_slice(y);
        let key = VerifyingKey::from_sec1_bytes(&uncompressed).map_err(|_| KeyImportError::NotOnCurve)?;
        let multiples = multiples_of(ProjectivePoint::from(*key.as_affine()));
        // Built now, at import, so the first request with a token does not pay for it.
        generator_multiples();
        Ok(Self { key, multiples })
    }

    /// Whether `signature` (JOSE form: `r || s`, 32 bytes each) is this key's ES256
    /// signature of `message`. Both `s` and `n - s` verify, as in every JOSE library:
    /// ES256 does not require low-S.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // `from_slice` refuses any length but 64, and r or s of zero or not below the
        // group order.
        let Ok(signature) = Signature::from_slice(signature) else { return false };
        let (r, s) = (*signature.r(), *signature.s());
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&Sha256::digest(message));
        let Some(s_inverse) = Option::<Scalar>::from(s.invert_vartime()) else { return false };
        let (u1, u2) = (z * s_inverse, r * s_inverse);
        let point = sum_of_products(generator_multiples(), &u1, &self.multiples, &u2);
        // The identity's affine x is zero, which no valid r equals.
        let x = point.to_affine().x();
        <Scalar as Reduce<FieldBytes>>::reduce(&x) == r
    }
}

/// `a·A + b·B` from the points' tables: one addition per signed radix-16 digit.
fn sum_of_products(a_multiples: &[LookupTable<ProjectivePoint>], a: &Scalar, b_multiples: &[LookupTable<ProjectivePoint>], b: &Scalar) -> ProjectivePoint {
    let (a_digits, b_digits) = (Radix16Decomposition::<Radix16Digits<NistP256>>::new(a), Radix16Decomposition::<Radix16Digits<NistP256>>::new(b));
    (0..DIGITS).fold(ProjectivePoint::IDENTITY, |sum, i| sum + a_multiples[i].select_vartime(a_digits[i]) + b_multiples[i].select_vartime(b_digits[i]))
}

/// The generator's table, built on first use (the first ES256 key's import).
fn generator_multiples() -> &'static [LookupTable<ProjectivePoint>] {
    static TABLE: OnceLock<Arc<[LookupTable<ProjectivePoint>]>> = OnceLock::new();
    TABLE.get_or_init(|| multiples_of(ProjectivePoint::generator()))
}

/// `LookupTable::new(16^i·Q)` for `i` in 0..65.
fn multiples_of(q: ProjectivePoint) -> Arc<[LookupTable<ProjectivePoint>]> {
    let mut base = q;
    (0..DIGITS)
        .map(|_| {
            let table = LookupTable::new(base);
            base = base.double().double().double().double();
            table
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_multiplies_as_the_group_does() {
        let q = ProjectivePoint::generator().double() + ProjectivePoint::generator();
        let key = Es256Key { key: VerifyingKey::from_affine(q.to_affine()).unwrap(), multiples: multiples_of(q) };
        let g = ProjectivePoint::generator();
        let scalars = [Scalar::ZERO, Scalar::ONE, Scalar::from(8u64), Scalar::from(9u64), Scalar::from(0xdead_beefu64), -Scalar::ONE, Scalar::from(u64::MAX) * Scalar::from(u64::MAX)];
        for (a, b) in scalars.iter().zip(scalars.iter().rev()) {
            assert_eq!(sum_of_products(generator_multiples(), a, &key.multiples, b), g * a + q * b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn coordinates_must_be_32_bytes_and_on_the_curve() {
        assert_eq!(Es256Key::from_coordinates(&[1; 31], &[1; 32]).unwrap_err(), KeyImportError::CoordinateLength);
        assert_eq!(Es256Key::from_coordinates(&[1; 32], &[1; 32]).unwrap_err(), KeyImportError::NotOnCurve);
        assert_eq!(Es256Key::from_coordinates(&[0; 32], &[0; 32]).unwrap_err(), KeyImportError::NotOnCurve);
    }
}
