//! The test side: real Envoy on loopback running the real `wsgate.wasm` (for `make run`
//! and the end-to-end tests), with a local echo upstream, a plain HTTP client and the
//! Google stand-in; the demo, benches, soak and the adversarial corpus. The wasmtime
//! harness and replay are `wsgate-harness`, which only this crate's tests use.

pub mod attack;
pub mod bench;
pub mod demo;
pub mod envoy;
pub mod google;
pub mod google_oidc;
pub mod http;
pub mod percent;
pub mod memory;
pub mod ports;
pub mod soak;
pub mod stack;
pub mod upstream;
pub mod webdriver;
