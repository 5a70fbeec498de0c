//! Everything the host knows about one plugin VM. It lives in the wasmtime `Store`,
//! never in globals, so harnesses run side by side in parallel tests.

use crate::faults::Faults;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime_wasi::p1::WasiP1Ctx;

/// A header map: lower-case names, raw values, in order.
pub type HeaderMap = Vec<(String, Vec<u8>)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// proxy-wasm levels: 0 trace … 5 critical.
    pub level: i32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    /// 0 counter, 1 gauge, 2 histogram.
    pub kind: i32,
    pub value: u64,
}

/// An HTTP call the plugin dispatched, waiting for its scripted answer.
#[derive(Debug, Clone)]
pub struct PendingCall {
    pub token: u32,
    pub context_id: u32,
    pub upstream: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What a scripted upstream (an Envoy cluster) answers to an HTTP call; `None` for
/// a failed call (reset, timeout), which Envoy reports with no headers.
#[derive(Debug, Clone, Default)]
pub struct ScriptedAnswer {
    pub response: Option<(HeaderMap, Vec<u8>)>,
}

/// The replay's clock, shared with WASI's wall clock so both agree.
#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<AtomicU64>);

impl Clock {
    pub fn set_unix_nanos(&self, nanos: u64) {
        self.0.store(nanos, Ordering::SeqCst);
    }

    pub fn unix_nanos(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl wasmtime_wasi::HostWallClock for Clock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.unix_nanos())
    }
}

pub struct HostState {
    pub wasi: WasiP1Ctx,
    pub clock: Clock,
    pub logs: Vec<LogLine>,
    pub maps: HashMap<i32, HeaderMap>,
    pub buffers: HashMap<i32, Vec<u8>>,
    pub properties: HashMap<String, Vec<u8>>,
    pub metrics: Vec<Metric>,
    pub shared_data: HashMap<String, (Vec<u8>, u32)>,
    pub queues: Vec<(String, VecDeque<Vec<u8>>)>,
    pub tick_period_ms: u32,
    pub local_reply: Option<LocalReply>,
    pub pending_calls: VecDeque<PendingCall>,
    pub scripted: HashMap<String, VecDeque<ScriptedAnswer>>,
    pub next_call_token: u32,
    /// Set when the plugin resumes a paused request (`proxy_continue_stream`).
    pub resumed: bool,
    pub effective_context: u32,
    /// Host calls the plugin made that this harness does not implement.
    pub unimplemented: Vec<String>,
    /// Host calls a test made fail.
    pub faults: Faults,
    /// Caps on the VM's linear memory (Service Extensions: 16 MiB); none by default.
    pub limits: wasmtime::StoreLimits,
}

impl HostState {
    pub fn new(wasi: WasiP1Ctx, clock: Clock) -> Self {
        Self {
            wasi,
            clock,
            logs: Vec::new(),
            maps: HashMap::new(),
            buffers: HashMap::new(),
            properties: HashMap::new(),
            metrics: Vec::new(),
            shared_data: HashMap::new(),
            queues: Vec::new(),
            tick_period_ms: 0,
            local_reply: None,
            pending_calls: VecDeque::new(),
            scripted: HashMap::new(),
            next_call_token: 1,
            resumed: false,
            effective_context: 0,
            unimplemented: Vec::new(),
            faults: Faults::default(),
            limits: wasmtime::StoreLimits::default(),
        }
    }

    pub fn map(&mut self, map_type: i32) -> &mut HeaderMap {
        self.maps.entry(map_type).or_default()
    }
}
