//! Registers one host call so that an injected fault ([`crate::faults`]) answers
//! before the call does its work: one wrapper, for every arity the ABI uses.

use crate::state::HostState;
use crate::status::HostResult;
use wasmtime::{Caller, Linker, WasmTy};

/// A host call taking `Params` after its caller.
pub trait HostCall<Params> {
    fn register_as(self, linker: &mut Linker<HostState>, name: &'static str) -> wasmtime::Result<()>;
}

/// Registers `call` as `env.name`, answering a planned fault instead when there is one.
pub fn register<Params>(linker: &mut Linker<HostState>, name: &'static str, call: impl HostCall<Params>) -> wasmtime::Result<()> {
    call.register_as(linker, name)
}

macro_rules! host_call_with {
    ($($param:ident),*) => {
        #[allow(non_snake_case)] // each parameter is named after its type
        impl<F, $($param: WasmTy),*> HostCall<($($param,)*)> for F
        where
            F: Fn(Caller<'_, HostState>, $($param),*) -> HostResult + Send + Sync + 'static,
        {
            fn register_as(self, linker: &mut Linker<HostState>, name: &'static str) -> wasmtime::Result<()> {
                linker.func_wrap("env", name, move |mut caller: Caller<'_, HostState>, $($param: $param),*| -> HostResult {
                    match caller.data_mut().faults.answer(name) {
                        Some(status) => status.into(),
                        None => self(caller, $($param),*),
                    }
                })?;
                Ok(())
            }
        }
    };
}

host_call_with!();
host_call_with!(A1);
host_call_with!(A1, A2);
host_call_with!(A1, A2, A3);
host_call_with!(A1, A2, A3, A4);
host_call_with!(A1, A2, A3, A4, A5);
host_call_with!(A1, A2, A3, A4, A5, A6);
host_call_with!(A1, A2, A3, A4, A5, A6, A7);
host_call_with!(A1, A2, A3, A4, A5, A6, A7, A8);
host_call_with!(A1, A2, A3, A4, A5, A6, A7, A8, A9);
host_call_with!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10);
