//! Sealing a cookie value with AES-256-GCM (RustCrypto's `aes-gcm`): only a gate
//! holding one of the keys can read it, and any change to it makes it unreadable.
//!
//! The cookie's name is the associated data, so a value sealed for one cookie is
//! worthless under another. Keys come as a list: the first seals, every one opens,
//! so a new key is rolled in (first) while the old one still opens the sessions it
//! sealed. Anything that does not open is "no session", never an error.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The format of a sealed value, its first byte: a later format can be told apart.
const VERSION: u8 = 1;
const NONCE_BYTES: usize = 12;
/// At most this many keys: one sealing, the others still opening.
pub const MAX_KEYS: usize = 8;

/// The keys a gate seals and opens with.
pub struct SessionKeys {
    ciphers: Vec<Aes256Gcm>,
}

impl std::fmt::Debug for SessionKeys {
    // Never the key material, in any log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionKeys({} keys)", self.ciphers.len())
    }
}

impl SessionKeys {
    /// The first key seals; all open. Between 1 and [`MAX_KEYS`] keys of 32 bytes.
    pub fn new(keys: &[[u8; 32]]) -> Result<Self, String> {
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(format!("needs between 1 and {MAX_KEYS} keys"));
        }
        let ciphers = keys.iter().map(|key| Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key))).collect();
        Ok(Self { ciphers })
    }

    /// `plaintext` sealed for cookie `name` with the first key and `nonce`, which must
    /// never repeat under one key (the caller draws it at random).
    pub fn seal(&self, name: &str, plaintext: &[u8], nonce: [u8; NONCE_BYTES]) -> Option<String> {
        let cipher = self.ciphers.first()?;
        let sealed = cipher.encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: name.as_bytes() }).ok()?;
        let mut value = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        value.push(VERSION);
        value.extend_from_slice(&nonce);
        value.extend_from_slice(&sealed);
        Some(URL_SAFE_NO_PAD.encode(value))
    }

    /// What `value` holds if one of the keys sealed it for cookie `name`.
    pub fn open(&self, name: &str, value: &[u8]) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION || rest.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = rest.split_at(NONCE_BYTES);
        let nonce = Nonce::try_from(nonce).ok()?;
        let payload = || Payload { msg: sealed, aad: name.as_bytes() };
        self.ciphers.iter().find_map(|cipher| cipher.decrypt(&nonce, payload()).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: [u8; 32] = [7; 32];
    const NEW: [u8; 32] = [9; 32];
    const NAME: &str = "__Host-wsgate-session";

    fn keys(list: &[[u8; 32]]) -> SessionKeys {
        SessionKeys::new(list).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_under_its_own_name_only() {
        let sealed = keys(&[OLD]).seal(NAME, b"alice", [1; 12]).unwrap();
        assert_eq!(keys(&[OLD]).open(NAME, sealed.as_bytes()).as_deref(), Some(&b"alice"[..]));
        assert_eq!(keys(&[OLD]).open("__Host-other", sealed.as_bytes()), None);
        assert_ne!(sealed, keys(&[OLD]).seal(NAME, b"alice", [2; 12]).unwrap(), "the nonce changes every seal");
    }

    #[test]
    fn a_new_key_rolls_in_without_signing_anyone_out() {
        let before = keys(&[OLD]).seal(NAME, b"alice", [1; 12]).unwrap();
        let rolled = keys(&[NEW, OLD]);
        assert_eq!(rolled.open(NAME, before.as_bytes()).as_deref(), Some(&b"alice"[..]), "the old key still opens");
        let after = rolled.seal(NAME, b"alice", [3; 12]).unwrap();
        assert_eq!(keys(&[NEW]).open(NAME, after.as_bytes()).as_deref(), Some(&b"alice"[..]), "the new key seals");
        assert_eq!(keys(&[NEW]).open(NAME, before.as_bytes()), None, "once the old key is gone, so are its sessions");
    }

    #[test]
    fn tampered_truncated_foreign_or_garbage_values_open_to_nothing() {
        let sealed = keys(&[OLD]).seal(NAME, b"alice@example.com", [1; 12]).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for at in [0, 1, 13, bytes.len() - 1] {
            bytes[at] ^= 1;
            assert_eq!(keys(&[OLD]).open(NAME, URL_SAFE_NO_PAD.encode(&bytes).as_bytes()), None, "bit flipped at {at}");
            bytes[at] ^= 1;
        }
        for cut in [0, 1, 13, sealed.len() - 1] {
            assert_eq!(keys(&[OLD]).open(NAME, &sealed.as_bytes()[..cut]), None, "cut at {cut}");
        }
        assert_eq!(keys(&[NEW]).open(NAME, sealed.as_bytes()), None, "another gate's key");
        for garbage in [&b"!!!"[..], b"", b"AQ", sealed.to_uppercase().as_bytes()] {
            assert_eq!(keys(&[OLD]).open(NAME, garbage), None);
        }
    }

    #[test]
    fn key_lists_are_bounded_and_never_printed() {
        assert!(SessionKeys::new(&[]).is_err());
        assert!(SessionKeys::new(&[OLD; MAX_KEYS + 1]).is_err());
        assert_eq!(format!("{:?}", keys(&[OLD, NEW])), "SessionKeys(2 keys)");
    }
}
