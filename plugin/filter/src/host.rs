//! The host as the core sees it: the request's headers, read in one host call, and
//! the clock.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{MapType, Status};
use std::ptr::null_mut;
use std::time::UNIX_EPOCH;
use wsgate_core::RequestSnapshot;
use wsgate_core::header_pairs;

// The status is taken as a plain integer: a value outside the SDK's `Status` enum
// must be a refusal, not undefined behaviour.
#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
unsafe extern "C" {
    #[link_name = "proxy_get_header_map_pairs"]
    fn get_header_map_pairs(map_type: MapType, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
}

/// The current request's headers, all at once: one crossing of the host boundary
/// instead of one per header. Read through the raw ABI call because the SDK's
/// wrapper panics on a status or buffer it does not expect; `None` means the host
/// failed and the request must be refused.
pub fn request_headers() -> Option<RequestSnapshot> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    // SAFETY: the host writes a pointer and a size it obtained from this module's
    // `proxy_on_memory_allocate` (the SDK's allocator, a `Vec<u8>` of capacity
    // `size`), so the buffer is ours to own and free, exactly as the SDK does.
    let bytes = unsafe {
        if get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size) != Status::Ok as u32 {
            return None;
        }
        if data.is_null() {
            return Some(RequestSnapshot::default());
        }
        Vec::from_raw_parts(data, size, size)
    };
    header_pairs::decode(&bytes).map(RequestSnapshot::from_pairs)
}

/// Unix seconds from the host clock; `None` if the host cannot tell, and then the
/// caller must refuse rather than guess.
pub fn now() -> Option<u64> {
    let time = hostcalls::get_current_time().ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}
