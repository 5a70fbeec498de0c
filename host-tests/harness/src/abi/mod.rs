//! The host calls of proxy-wasm ABI 0.2.1, one file per family, and the one table
//! that registers them. Anything else a plugin imports from `env` answers
//! `Unimplemented` and is recorded, so a new SDK never crashes the harness.

pub mod buffers;
pub mod clock;
pub mod http;
pub mod log;
pub mod maps;
pub mod metrics;
pub mod properties;
pub mod shared;

use crate::state::HostState;
use crate::status::Status;
use wasmtime::{ExternType, Linker, Module, Val};

/// Every host call this harness implements.
pub const IMPLEMENTED: &[&str] = &[
    "proxy_log",
    "proxy_get_log_level",
    "proxy_get_header_map_pairs",
    "proxy_set_header_map_pairs",
    "proxy_get_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_add_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_get_current_time_nanoseconds",
    "proxy_set_tick_period_milliseconds",
    "proxy_get_property",
    "proxy_set_property",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_register_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_dequeue_shared_queue",
    "proxy_send_local_response",
    "proxy_http_call",
    "proxy_continue_stream",
    "proxy_close_stream",
    "proxy_set_effective_context",
    "proxy_done",
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

pub fn register(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    linker.func_wrap("env", "proxy_log", log::proxy_log)?;
    linker.func_wrap("env", "proxy_get_log_level", log::proxy_get_log_level)?;
    linker.func_wrap("env", "proxy_get_header_map_pairs", maps::proxy_get_header_map_pairs)?;
    linker.func_wrap("env", "proxy_set_header_map_pairs", maps::proxy_set_header_map_pairs)?;
    linker.func_wrap("env", "proxy_get_header_map_value", maps::proxy_get_header_map_value)?;
    linker.func_wrap("env", "proxy_replace_header_map_value", maps::proxy_replace_header_map_value)?;
    linker.func_wrap("env", "proxy_add_header_map_value", maps::proxy_add_header_map_value)?;
    linker.func_wrap("env", "proxy_remove_header_map_value", maps::proxy_remove_header_map_value)?;
    linker.func_wrap("env", "proxy_get_buffer_bytes", buffers::proxy_get_buffer_bytes)?;
    linker.func_wrap("env", "proxy_set_buffer_bytes", buffers::proxy_set_buffer_bytes)?;
    linker.func_wrap("env", "proxy_get_current_time_nanoseconds", clock::proxy_get_current_time_nanoseconds)?;
    linker.func_wrap("env", "proxy_set_tick_period_milliseconds", clock::proxy_set_tick_period_milliseconds)?;
    linker.func_wrap("env", "proxy_get_property", properties::proxy_get_property)?;
    linker.func_wrap("env", "proxy_set_property", properties::proxy_set_property)?;
    linker.func_wrap("env", "proxy_define_metric", metrics::proxy_define_metric)?;
    linker.func_wrap("env", "proxy_increment_metric", metrics::proxy_increment_metric)?;
    linker.func_wrap("env", "proxy_record_metric", metrics::proxy_record_metric)?;
    linker.func_wrap("env", "proxy_get_metric", metrics::proxy_get_metric)?;
    linker.func_wrap("env", "proxy_get_shared_data", shared::proxy_get_shared_data)?;
    linker.func_wrap("env", "proxy_set_shared_data", shared::proxy_set_shared_data)?;
    linker.func_wrap("env", "proxy_register_shared_queue", shared::proxy_register_shared_queue)?;
    linker.func_wrap("env", "proxy_resolve_shared_queue", shared::proxy_resolve_shared_queue)?;
    linker.func_wrap("env", "proxy_enqueue_shared_queue", shared::proxy_enqueue_shared_queue)?;
    linker.func_wrap("env", "proxy_dequeue_shared_queue", shared::proxy_dequeue_shared_queue)?;
    linker.func_wrap("env", "proxy_send_local_response", http::proxy_send_local_response)?;
    linker.func_wrap("env", "proxy_http_call", http::proxy_http_call)?;
    linker.func_wrap("env", "proxy_continue_stream", http::proxy_continue_stream)?;
    linker.func_wrap("env", "proxy_close_stream", http::proxy_close_stream)?;
    linker.func_wrap("env", "proxy_set_effective_context", http::proxy_set_effective_context)?;
    linker.func_wrap("env", "proxy_done", http::proxy_done)?;
    register_unimplemented(linker, module)
}

/// A stand-in for every other `env` import: records the call, answers Unimplemented.
fn register_unimplemented(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    for import in module.imports().filter(|i| i.module() == "env" && !IMPLEMENTED.contains(&i.name())) {
        let ExternType::Func(ty) = import.ty() else { continue };
        let name = import.name().to_owned();
        linker.func_new("env", import.name(), ty.clone(), move |mut caller, _params, results| {
            caller.data_mut().unimplemented.push(name.clone());
            for (slot, result_ty) in results.iter_mut().zip(ty.results()) {
                *slot = Val::default_for_ty(&result_ty).unwrap_or(Val::I32(0));
                if let Val::I32(value) = slot {
                    *value = Status::Unimplemented as i32;
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}
