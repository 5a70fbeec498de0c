//! The other door: the proxy-wasm ABI 0.2.1 exports through which Envoy calls in —
//! start, memory, contexts and their events — routed to the root and request
//! contexts. wsgate owns these instead of the SDK's dispatcher, which unwraps host
//! statuses and must register every HTTP call it did not make itself.
//!
//! No borrow is held while a context runs: a host call it makes (resuming a request,
//! answering one) may call back in for another context before it returns.

use crate::host::{self, LogLevel, Next};
use crate::request::RequestContext;
use crate::root::Root;
use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::rc::Rc;

#[derive(Clone)]
enum Context {
    Root(Rc<Root>),
    Request(Rc<RequestContext>),
}

thread_local! {
    static CONTEXTS: RefCell<HashMap<u32, Context>> = RefCell::new(HashMap::new());
}

fn context(id: u32) -> Option<Context> {
    CONTEXTS.with(|contexts| contexts.try_borrow().ok()?.get(&id).cloned())
}

fn request(id: u32) -> Option<Rc<RequestContext>> {
    match context(id)? {
        Context::Request(request) => Some(request),
        Context::Root(_) => None,
    }
}

fn root(id: u32) -> Option<Rc<Root>> {
    match context(id)? {
        Context::Root(root) => Some(root),
        Context::Request(_) => None,
    }
}

fn insert(id: u32, context: Context) {
    CONTEXTS.with(|contexts| {
        if let Ok(mut contexts) = contexts.try_borrow_mut() {
            contexts.insert(id, context);
        }
    });
}

#[cfg(target_os = "wasi")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

/// The WASI reactor's start: static constructors, then the panic hook.
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    // SAFETY: called once by the host before anything else, as WASI reactors require.
    #[cfg(target_os = "wasi")]
    unsafe {
        __wasm_call_ctors();
    }
    // A panic traps the VM and Envoy does not restart it: at least say why.
    std::panic::set_hook(Box::new(|info| host::log(LogLevel::Critical, &format!("wsgate panicked: {info}"))));
}

/// Marks the ABI version this module speaks.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// A buffer the host fills for us; ours to free, as `host::owned` does.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let buffer: Box<[MaybeUninit<u8>]> = Box::new_uninit_slice(size);
    Box::into_raw(buffer).cast::<u8>()
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_vm_start(_root_context_id: u32, _vm_configuration_size: usize) -> u32 {
    1
}

/// A root context (no parent) or a request's (its parent is the root).
#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_context_create(context_id: u32, parent_id: u32) {
    if parent_id == 0 {
        insert(context_id, Context::Root(Rc::new(Root::new(context_id))));
    } else {
        let vm = root(parent_id).and_then(|root| root.vm());
        insert(context_id, Context::Request(Rc::new(RequestContext::new(context_id, vm))));
    }
}

/// Returning 0 makes Envoy refuse the configuration instead of serving with it.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_configure(root_id: u32, configuration_size: usize) -> u32 {
    root(root_id).is_some_and(|root| root.configure(configuration_size)).into()
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_tick(root_id: u32) {
    if let Some(root) = root(root_id) {
        root.tick();
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_headers(context_id: u32, _headers: usize, end_of_stream: u32) -> u32 {
    match request(context_id) {
        Some(request) => request.on_request_headers(end_of_stream != 0) as u32,
        // A request without a context of ours cannot be decided: never forwarded.
        None => crate::decide::fail_closed("a request without a context") as u32,
    }
}

/// Without this export Envoy would pass a body on as it comes, and with it the
/// headers of a request whose decision is still open.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_body(context_id: u32, body_size: usize, end_of_stream: u32) -> u32 {
    match request(context_id) {
        Some(request) => request.on_request_body(body_size, end_of_stream != 0) as u32,
        None => host::BodyNext::Drop as u32,
    }
}

/// Without this export Envoy would pass trailers on, and with them what it held.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_trailers(context_id: u32, _trailers: usize) -> u32 {
    match request(context_id) {
        Some(request) => request.on_request_trailers() as u32,
        None => Next::Pause as u32,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_response_headers(context_id: u32, _headers: usize, _end_of_stream: u32) -> u32 {
    if let Some(request) = request(context_id) {
        request.on_response_headers();
    }
    Next::Continue as u32
}

/// A call's answer, delivered to the context that was effective when it was made.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_http_call_response(context_id: u32, token: u32, _headers: usize, body_size: usize, _trailers: usize) {
    match context(context_id) {
        Some(Context::Root(root)) => root.on_call_answer(token, body_size),
        Some(Context::Request(request)) => request.on_call_answer(token, body_size),
        None => {}
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_done(context_id: u32) -> u32 {
    if let Some(request) = request(context_id) {
        request.on_done();
    }
    1
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_delete(context_id: u32) {
    CONTEXTS.with(|contexts| {
        if let Ok(mut contexts) = contexts.try_borrow_mut() {
            contexts.remove(&context_id);
        }
    });
}
