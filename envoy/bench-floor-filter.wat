;; `make bench`'s lowest floor: the fewest exports a proxy-wasm filter that sees each
;; request can have. Next to `bench-empty-filter.wat` (every per-request hook the Rust
;; SDK exports) it shows whether Envoy charges for hooks a module does not export.
;; Envoy 1.40 loads it and calls neither proxy_on_response_headers, proxy_on_log,
;; proxy_on_done nor proxy_on_delete: proxy-wasm-cpp-host looks every hook up by name
;; and skips the ones that are missing. It would load even without
;; proxy_on_context_create, proxy_on_vm_start and proxy_on_configure (tried); it refuses
;; a module without proxy_on_memory_allocate (or malloc): "Wasm module is missing malloc
;; function". They stay so that it starts the way every real filter does.
(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (func (export "proxy_abi_version_0_2_1"))
  ;; Envoy copies configuration and headers into memory it asks for here; a bump
  ;; allocator is enough for a module that never asks for any.
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  ;; 0: continue to the next filter.
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0)))
