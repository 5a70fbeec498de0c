//! The host calls of proxy-wasm ABI 0.2.1, one file per family, and the one table
//! that lists and registers them. Anything else a plugin imports from `env` answers
//! `Unimplemented` and is recorded, so a new SDK never crashes the harness. A fault a
//! test plans ([`crate::faults`]) answers before any of them.

pub mod buffers;
pub mod clock;
pub mod host_call;
pub mod http;
pub mod log;
pub mod maps;
pub mod metrics;
pub mod properties;
pub mod shared;

use crate::state::HostState;
use crate::status::Status;
use wasmtime::{ExternType, Linker, Module, Val};

/// Declares the host calls this harness implements, once: [`IMPLEMENTED`] and their
/// registration come from the same lines.
macro_rules! host_calls {
    ($($family:ident::$call:ident),* $(,)?) => {
        /// Every host call this harness implements.
        pub const IMPLEMENTED: &[&str] = &[$(stringify!($call)),*];

        fn register_implemented(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
            $(host_call::register(linker, stringify!($call), $family::$call)?;)*
            Ok(())
        }
    };
}

host_calls![
    log::proxy_log,
    log::proxy_get_log_level,
    maps::proxy_get_header_map_pairs,
    maps::proxy_set_header_map_pairs,
    maps::proxy_get_header_map_value,
    maps::proxy_replace_header_map_value,
    maps::proxy_add_header_map_value,
    maps::proxy_remove_header_map_value,
    buffers::proxy_get_buffer_bytes,
    buffers::proxy_set_buffer_bytes,
    clock::proxy_get_current_time_nanoseconds,
    clock::proxy_set_tick_period_milliseconds,
    properties::proxy_get_property,
    properties::proxy_set_property,
    metrics::proxy_define_metric,
    metrics::proxy_increment_metric,
    metrics::proxy_record_metric,
    metrics::proxy_get_metric,
    shared::proxy_get_shared_data,
    shared::proxy_set_shared_data,
    shared::proxy_register_shared_queue,
    shared::proxy_resolve_shared_queue,
    shared::proxy_enqueue_shared_queue,
    shared::proxy_dequeue_shared_queue,
    http::proxy_send_local_response,
    http::proxy_http_call,
    http::proxy_continue_stream,
    http::proxy_close_stream,
    http::proxy_set_effective_context,
    http::proxy_done,
];

/// Imported by the Rust SDK's dispatcher but never called by wsgate: gRPC callouts
/// and foreign functions. They answer `Unimplemented` and are recorded.
pub const DELIBERATELY_UNIMPLEMENTED: &[&str] = &[
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_send",
    "proxy_grpc_cancel",
    "proxy_grpc_close",
    "proxy_get_status",
    "proxy_call_foreign_function",
];

/// Links every host call: those implemented, and a stand-in for any other the module
/// imports from `env`. Each answers an injected fault first, if one is planned.
pub fn register(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    register_implemented(linker)?;
    register_unimplemented(linker, module)
}

/// A stand-in for every other `env` import: records the call, answers Unimplemented
/// (or the injected fault's status).
fn register_unimplemented(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    for import in module.imports().filter(|i| i.module() == "env" && !IMPLEMENTED.contains(&i.name())) {
        let ExternType::Func(ty) = import.ty() else { continue };
        let name = import.name().to_owned();
        linker.func_new("env", import.name(), ty.clone(), move |mut caller, _params, results| {
            let state = caller.data_mut();
            let status = state.faults.answer(&name).unwrap_or_else(|| {
                state.unimplemented.push(name.clone());
                Status::Unimplemented
            });
            for (slot, result_ty) in results.iter_mut().zip(ty.results()) {
                *slot = Val::default_for_ty(&result_ty).unwrap_or(Val::I32(0));
                if let Val::I32(value) = slot {
                    *value = status as i32;
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}
