//! `make bench`: wsgate against Envoy's native jwt_authn + rbac, no auth at all and two do-nothing Wasm filters, in real Envoy under wrk, measured side by side in one run.

pub mod coldstart;
pub mod configs;
pub mod vm_memory;
pub mod wrk;
