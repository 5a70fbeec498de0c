//! wsgate.wasm: the proxy-wasm glue between Envoy and `wsgate-core`.
//!
//! Thin on purpose: read the configuration once ([`root`]); per request strip the
//! identity headers, hand the request to the core's [`Gate`](wsgate_core::Gate) with
//! the host's clock, then carry out its verdict, log its line and count it
//! ([`request`], [`decide`]). Everything that waits on the outside world — remote
//! keys, the access token, group lookups — is the core's I/O-free
//! [`Outbound`](wsgate_core::outbound::Outbound) engine; [`outbound`] only carries its
//! calls to Envoy and the answers back, and [`resume`] decides the requests it paused.
//! Every call out to the host goes through [`host`], every call in through [`abi`]:
//! both doors are wsgate's own, so no host status can trap the VM.

mod abi;
mod decide;
mod hold;
mod host;
mod metrics;
mod outbound;
mod request;
mod resume;
mod root;
mod vm;
