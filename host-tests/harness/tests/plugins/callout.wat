;; A minimal proxy-wasm plugin exercising what wsgate does not use yet:
;; an HTTP call that pauses the request, resumed or answered when the call returns;
;; shared data with compare-and-swap; and a host call no host implements.
(module
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_made_up_call" (func $made_up (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 0) "keys-cluster")        ;; 12 bytes: the upstream
  (data (i32.const 16) "\00\00\00\00")       ;; an empty header map
  (data (i32.const 32) "k")                  ;; shared data key
  (data (i32.const 40) "v1")                 ;; shared data value
  ;; 48: call token; 52/56: returned value ptr/size; 60: cas

  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))

  (func (export "proxy_on_context_create") (param i32 i32))

  ;; Starts only if an unknown host call answers Unimplemented (12) instead of trapping,
  ;; and shared data honours compare-and-swap.
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (if (i32.ne (call $made_up) (i32.const 12)) (then (return (i32.const 0))))
    ;; cas 0: unconditional write
    (if (i32.ne (call $set_shared (i32.const 32) (i32.const 1) (i32.const 40) (i32.const 2) (i32.const 0)) (i32.const 0)) (then (return (i32.const 0))))
    (if (i32.ne (call $get_shared (i32.const 32) (i32.const 1) (i32.const 52) (i32.const 56) (i32.const 60)) (i32.const 0)) (then (return (i32.const 0))))
    ;; a stale cas must be refused with CasMismatch (8)
    (if (i32.ne (call $set_shared (i32.const 32) (i32.const 1) (i32.const 40) (i32.const 2) (i32.add (i32.load (i32.const 60)) (i32.const 7))) (i32.const 8)) (then (return (i32.const 0))))
    (i32.const 1))

  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))

  ;; Every request waits for a call to keys-cluster.
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $http_call (i32.const 0) (i32.const 12) (i32.const 16) (i32.const 4) (i32.const 0) (i32.const 0)
                           (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 48)))
    (i32.const 1))

  ;; A call with a body resumes the request; a failed one (no headers) answers 503.
  (func (export "proxy_on_http_call_response") (param i32 i32 i32) (param $body_size i32) (param i32)
    (if (i32.gt_u (local.get $body_size) (i32.const 0))
      (then (drop (call $continue (i32.const 0))))
      (else (drop (call $local_response (i32.const 503) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                        (i32.const 16) (i32.const 4) (i32.const -1))))))

  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32)))
