//! wsgate-harness: the native harness. wasmtime runs the same `wsgate.wasm` Envoy
//! loads, with this crate playing the host's side of proxy-wasm ABI 0.2.1 (and
//! wasmtime-wasi providing WASI preview1); [`replay`] runs recorded traffic through it
//! (or through the core natively) and checks every answer. The module is compiled once
//! and instantiated per [`Plugin`].
//!
//! It is the only crate that depends on wasmtime: the operator CLI takes it behind its
//! `replay` feature, the test side (`wsgate-host-tests`) as a dev-dependency.

pub mod abi;
pub mod faults;
pub mod memory;
pub mod plugin;
pub mod replay;
pub mod state;
pub mod status;

use faults::{NotImported, Times};
use plugin::Plugin;
use state::{Clock, HostState};
use status::Status;
use std::path::Path;
use wasmtime::{Engine, Linker, Module};

pub struct Harness {
    engine: Engine,
    module: Module,
    linker: Linker<HostState>,
}

impl Harness {
    /// Compiles the module (once) and links every host call it imports.
    pub fn load(wasm: &Path) -> wasmtime::Result<Harness> {
        let mut config = wasmtime::Config::new();
        // WSGATE_PERFMAP=1: write /tmp/perf-PID.map so `perf report` names the
        // plugin's functions (profiling the .wasm by hand; see README "Speed").
        if std::env::var_os("WSGATE_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let module = Module::from_file(&engine, wasm)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut HostState| &mut state.wasi)?;
        abi::register(&mut linker, &module)?;
        Ok(Harness { engine, module, linker })
    }

    /// `(module, name)` of every import of the plugin.
    pub fn imports(&self) -> Vec<(String, String)> {
        self.module.imports().map(|i| (i.module().to_owned(), i.name().to_owned())).collect()
    }

    /// A new VM: instantiated, started and configured with `plugin_config` at
    /// `unix_nanos`. Fails with the plugin's own log if it refuses the configuration.
    pub fn start(&self, plugin_config: &[u8], unix_nanos: u64) -> wasmtime::Result<Plugin> {
        Plugin::start(&self.engine, &self.module, &self.linker, self.state(unix_nanos, &[]), plugin_config)
    }

    /// Like [`Harness::start`], with these variables in the VM's environment, as
    /// Envoy's `vm_config.environment_variables` puts them there (WASI `environ_get`).
    pub fn start_with_env(&self, plugin_config: &[u8], unix_nanos: u64, environment: &[(String, String)]) -> wasmtime::Result<Plugin> {
        Plugin::start(&self.engine, &self.module, &self.linker, self.state(unix_nanos, environment), plugin_config)
    }

    /// Like [`Harness::start`], with `import` answering `status` from the very first
    /// call: the failures a plugin meets while it starts and configures.
    pub fn start_failing(&self, plugin_config: &[u8], unix_nanos: u64, import: &str, status: Status) -> wasmtime::Result<Plugin> {
        if !self.module.imports().any(|i| i.name() == import) {
            wasmtime::bail!("{}", NotImported(import.to_owned()));
        }
        let mut state = self.state(unix_nanos, &[]);
        state.faults.plan(import, status, Times::Always);
        Plugin::start(&self.engine, &self.module, &self.linker, state, plugin_config)
    }

    /// A VM as a restricted host runs it: every import in `refused` answers `status`
    /// from the first call (the host calls that host does not offer), and linear memory
    /// is capped at `memory_bytes`. Fails as [`Harness::start`] does.
    pub fn start_restricted(&self, plugin_config: &[u8], unix_nanos: u64, refused: &[&str], status: Status, memory_bytes: usize) -> wasmtime::Result<Plugin> {
        let mut state = self.state(unix_nanos, &[]);
        for import in refused {
            state.faults.plan(import, status, Times::Always);
        }
        state.limits = wasmtime::StoreLimitsBuilder::new().memory_size(memory_bytes).build();
        Plugin::start(&self.engine, &self.module, &self.linker, state, plugin_config)
    }

    fn state(&self, unix_nanos: u64, environment: &[(String, String)]) -> HostState {
        let clock = Clock::default();
        clock.set_unix_nanos(unix_nanos);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().wall_clock(clock.clone()).envs(environment).build_p1();
        HostState::new(wasi, clock)
    }
}
