;; A minimal proxy-wasm plugin that reports what its host answered: each request
;; logs a line, then answers itself with HTTP status 200 + the status proxy_log
;; returned (200: Ok, 210: InternalFailure, ...).
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 0) "probe")               ;; 5 bytes: the log line
  (data (i32.const 16) "\00\00\00\00")       ;; an empty header map

  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))

  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))

  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $status i32)
    (local.set $status (call $log (i32.const 2) (i32.const 0) (i32.const 5)))
    (drop (call $local_response (i32.add (i32.const 200) (local.get $status)) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                (i32.const 16) (i32.const 4) (i32.const -1)))
    (i32.const 1))

  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32)))
