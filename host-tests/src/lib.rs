//! The hosts that run the real `wsgate.wasm`: real Envoy on loopback (for `make run`
//! and the end-to-end tests), with a local echo upstream and a plain HTTP client; and
//! the wasmtime harness that replays recorded traffic through the same .wasm.

pub mod attack;
pub mod bench;
pub mod demo;
pub mod envoy;
pub mod google;
pub mod harness;
pub mod http;
pub mod memory;
pub mod ports;
pub mod replay;
pub mod soak;
pub mod stack;
pub mod upstream;
