//! Arbitrary bytes as a configuration (`Settings::from_json`). Never panics; a refused
//! configuration says why (at least one error, each with a message); an accepted one
//! makes a gate that decides requests without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsgate_core::{Action, Gate, RequestSnapshot, Settings};
use wsgate_fuzz::NOW;

fuzz_target!(|data: &[u8]| {
    match Settings::from_json(data) {
        Err(errors) => {
            assert!(!errors.0.is_empty(), "refused with no error");
            for error in &errors.0 {
                assert!(!error.message.trim().is_empty(), "an error without a message at {:?}", error.path);
                // The path is not checked further: serde_path_to_error writes JSON keys
                // as they are, so `{"": …}` ends it in '.', and an escaped newline in a
                // key puts one in the path (and in serde's message).
                assert!(!error.to_string().is_empty());
            }
        }
        Ok(settings) => {
            let mut gate = Gate::new(settings);
            for (method, path) in [("GET", "/"), ("POST", "/healthz/live"), ("DELETE", "/admin/x")] {
                let request = RequestSnapshot::new(method, "example.com", path).with_header("authorization", "Bearer a.b.c");
                let verdict = gate.decide(&request, NOW * 1000);
                assert_eq!(matches!(verdict.action, Action::Forward { .. }), verdict.reason.admits(), "{:?}", verdict.reason);
            }
        }
    }
});
