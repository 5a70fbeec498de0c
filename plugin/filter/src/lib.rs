//! wsgate.wasm: the proxy-wasm glue between Envoy and `wsgate-core`.
//!
//! Thin on purpose: read the configuration once, and per request strip the identity
//! headers, hand the request to the core's [`Gate`](wsgate_core::Gate) with the host's
//! clock, then carry out its [`Action`](wsgate_core::Action), log its line and count it.
//! Remote keys are fetched through Envoy's HTTP client by the root context, shared
//! with the other VMs, and requests that need them are held until they arrive. Live
//! group lookups go through the same client from the context that needs them, and
//! requests whose decision depends on them are held likewise.

mod groups;
mod held;
mod host;
mod http;
mod keys;
mod metrics;
mod resume;
mod root;

use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    // A panic traps the VM and Envoy does not restart it: at least say why.
    std::panic::set_hook(Box::new(|info| {
        let _ = proxy_wasm::hostcalls::log(LogLevel::Critical, &format!("wsgate panicked: {info}"));
    }));
    proxy_wasm::set_root_context(|context_id| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::WsgateRoot::new(context_id))
    });
}}
