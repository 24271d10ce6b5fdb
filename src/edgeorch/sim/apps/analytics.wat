;; real-time-analytics (edgeorch-http-v1 ABI, docs/wasm-abi.md): every request is one event.
;; Answers {"events":N,"bytes":M}: requests and request bytes seen by this instance. The counters
;; are exported mutable globals so that a snapshot (live migration) carries them along.
(module
  (memory (export "memory") 1)
  (global $events (export "events") (mut i64) (i64.const 0))
  (global $bytes (export "bytes") (mut i64) (i64.const 0))
  (data (i32.const 0) "200\ncontent-type: application/json\n\n{\"events\":")
  (data (i32.const 100) ",\"bytes\":")
  (data (i32.const 120) "}\n")
  ;; Write n in decimal at dst (digits are built backwards below offset 1000); returns the end.
  (func $num (param $n i64) (param $dst i32) (result i32)
    (local $p i32) (local $len i32)
    (local.set $p (i32.const 1000))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p)
                  (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $n) (i64.const 0))))
    (local.set $len (i32.sub (i32.const 1000) (local.get $p)))
    (memory.copy (local.get $dst) (local.get $p) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))
  ;; Requests go at 16384; grow memory as needed, 0 when it cannot.
  (func (export "alloc") (param $len i32) (result i32)
    (local $need i32)
    (local.set $need (i32.shr_u
      (i32.add (i32.add (i32.const 16384) (local.get $len)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
        (then (return (i32.const 0))))))
    (i32.const 16384))
  ;; The response is assembled at 4096.
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (global.set $events (i64.add (global.get $events) (i64.const 1)))
    (global.set $bytes (i64.add (global.get $bytes) (i64.extend_i32_u (local.get $len))))
    (memory.copy (i32.const 4096) (i32.const 0) (i32.const 46))
    (local.set $out (call $num (global.get $events) (i32.const 4142)))
    (memory.copy (local.get $out) (i32.const 100) (i32.const 9))
    (local.set $out (call $num (global.get $bytes) (i32.add (local.get $out) (i32.const 9))))
    (memory.copy (local.get $out) (i32.const 120) (i32.const 2))
    (local.set $out (i32.add (local.get $out) (i32.const 2)))
    (i64.or (i64.shl (i64.const 4096) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $out) (i32.const 4096)))))
)
