//! proxy-wasm's header-map wire format (`wsgate_core::header_pairs`). Never panics; a
//! buffer that decodes re-encodes to one that decodes to the same pairs; any pairs
//! (built from the same bytes) survive encode → decode; and the request built from
//! decoded pairs finds each header's first value by its lower-cased name.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use wsgate_core::header_pairs::{decode, encode};
use wsgate_core::{RequestHeaders, RequestSnapshot};

fuzz_target!(|data: &[u8]| {
    if let Some(pairs) = decode(data) {
        assert!(pairs.len() <= data.len() / 8, "{} pairs from {} bytes", pairs.len(), data.len());
        let again = decode(&encode(&pairs));
        assert_eq!(again.as_ref(), Some(&pairs), "decoded pairs do not survive re-encoding");
        let request = RequestSnapshot::from_pairs(pairs.clone());
        for (name, value) in &pairs {
            let lower = name.to_ascii_lowercase();
            let first = pairs.iter().find(|(n, _)| n.to_ascii_lowercase() == lower).map(|(_, v)| v.as_slice());
            assert_eq!(request.header(&lower), first, "header {lower:?}");
            let _ = value;
        }
    }
    let mut input = Unstructured::new(data);
    if let Ok(pairs) = Vec::<(String, Vec<u8>)>::arbitrary(&mut input) {
        assert_eq!(decode(&encode(&pairs)), Some(pairs), "encoded pairs do not decode to themselves");
    }
});
