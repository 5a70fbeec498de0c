//! `make bench`: wsgate against Envoy's native jwt_authn + rbac and against no auth at
//! all, in real Envoy under wrk, measured side by side in one run.

pub mod configs;
pub mod wrk;
