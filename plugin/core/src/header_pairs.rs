//! proxy-wasm's header-map wire format, so a whole map crosses the host boundary in
//! one call: a count, then (name length, value length) pairs, then each name and
//! value followed by a NUL. Decoding is checked: a malformed buffer is `None`, never
//! a panic or a misread.

/// A header map: names as the host gave them, values as raw bytes.
pub type HeaderPairs = Vec<(String, Vec<u8>)>;

/// Any pairs of names and values as bytes: request headers, a local response's, a call's.
pub fn encode<N: AsRef<[u8]>, V: AsRef<[u8]>>(map: &[(N, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&wire_len(map.len()).to_le_bytes());
    for (name, value) in map {
        out.extend_from_slice(&wire_len(name.as_ref().len()).to_le_bytes());
        out.extend_from_slice(&wire_len(value.as_ref().len()).to_le_bytes());
    }
    for (name, value) in map {
        out.extend_from_slice(name.as_ref());
        out.push(0);
        out.extend_from_slice(value.as_ref());
        out.push(0);
    }
    out
}

/// The inverse of [`encode`]; `None` if the buffer is malformed or truncated.
pub fn decode(bytes: &[u8]) -> Option<HeaderPairs> {
    let word = |at: usize| {
        let b = bytes.get(at..at.checked_add(4)?)?;
        usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
    };
    let count = word(0)?;
    let mut data = count.checked_mul(8)?.checked_add(4)?;
    let mut map = Vec::with_capacity(count.min(256));
    for i in 0..count {
        let lengths = 4 + i * 8;
        let (name, next) = field(bytes, data, word(lengths)?)?;
        let (value, next) = field(bytes, next, word(lengths + 4)?)?;
        data = next;
        map.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
    }
    Some(map)
}

/// The `len` bytes at `at`, and where the next field starts (past the NUL).
fn field(bytes: &[u8], at: usize, len: usize) -> Option<(&[u8], usize)> {
    let end = at.checked_add(len)?;
    Some((bytes.get(at..end)?, end.checked_add(1)?))
}

/// Lengths past 4 GiB cannot be expressed on the wire; headers never come near.
fn wire_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_survives_encoding() {
        let map = vec![(":path".to_owned(), b"/a".to_vec()), ("x".to_owned(), vec![0xff, 0])];
        assert_eq!(decode(&encode(&map)), Some(map));
        assert_eq!(decode(&encode::<String, Vec<u8>>(&[])), Some(vec![]));
    }

    #[test]
    fn a_truncated_or_lying_map_is_refused_not_misread() {
        let bytes = encode(&[("name".to_owned(), b"value".to_vec())]);
        assert!(decode(&bytes[..bytes.len() - 3]).is_none());
        assert!(decode(&[255, 255, 255, 255]).is_none());
        let mut huge_length = bytes.clone();
        huge_length[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge_length).is_none());
        assert!(decode(&[]).is_none());
    }
}
