//! Memory readings from a running Envoy's admin stats: the plugin VM's linear memory
//! (the gauge wsgate itself reports) and Envoy's own heap. Shared by the measurements
//! (`wsgate-bench`, `wsgate-soak`).

use crate::envoy::Envoy;

/// The gauge the plugin sets to its VM's linear memory, in bytes (at start and every
/// 1,024 requests; see `plugin/filter/src/metrics.rs`).
pub const VM_MEMORY_GAUGE: &str = "wasmcustom.wsgate.vm.memory_bytes";

/// The wasm VM's linear memory, as the plugin reports it (0 before its first report).
pub fn vm_memory(envoy: &Envoy) -> u64 {
    envoy.counter(VM_MEMORY_GAUGE)
}

/// One reading of the plugin VM's memory and of Envoy's heap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemorySample {
    /// `wasmcustom.wsgate.vm.memory_bytes`.
    pub vm_bytes: u64,
    /// `server.memory_allocated`: bytes Envoy's allocator has handed out.
    pub envoy_allocated_bytes: u64,
    /// `server.memory_heap_size`: bytes Envoy's allocator reserved from the system.
    pub envoy_heap_bytes: u64,
}

pub fn sample(envoy: &Envoy) -> MemorySample {
    MemorySample {
        vm_bytes: vm_memory(envoy),
        envoy_allocated_bytes: envoy.counter("server.memory_allocated"),
        envoy_heap_bytes: envoy.counter("server.memory_heap_size"),
    }
}
