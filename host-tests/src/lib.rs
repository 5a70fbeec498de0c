//! The hosts that run the real `wsgate.wasm`: real Envoy on loopback (for `make run`
//! and the end-to-end tests), with a local echo upstream and a plain HTTP client.

pub mod envoy;
pub mod http;
pub mod ports;
pub mod stack;
pub mod upstream;
