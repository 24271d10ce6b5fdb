"""WAT modules for the wasm driver tests (compiled with wasmtime.wat2wasm in the tests)."""

import hashlib

import wasmtime

from edgeorch.agent.drivers.base import TaskSpec

# alloc(len) for every module: requests always land at 4096, growing memory as needed, 0 when
# memory.grow refuses (the ABI's "out of memory" answer).
ALLOC = """
  (func (export "alloc") (param $len i32) (result i32)
    (local $need i32)
    (local.set $need (i32.shr_u
      (i32.add (i32.add (i32.const 4096) (local.get $len)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
        (then (return (i32.const 0))))))
    (i32.const 4096))
"""

PREFIX = b"200\ncontent-type: text/plain\n\n"

# Answers 200 with the request bytes as the body: the prefix is copied right before the request.
ECHO_WAT = f"""
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "200\\ncontent-type: text/plain\\n\\n")
  {ALLOC}
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (memory.copy (i32.sub (local.get $ptr) (i32.const {len(PREFIX)})) (i32.const 0)
                 (i32.const {len(PREFIX)}))
    (i64.or
      (i64.shl (i64.extend_i32_u (i32.sub (local.get $ptr) (i32.const {len(PREFIX)})))
               (i64.const 32))
      (i64.extend_i32_u (i32.add (local.get $len) (i32.const {len(PREFIX)})))))
)
"""

# The docs/wasm-abi.md example: counts requests in an exported mutable global.
COUNTER_WAT = f"""
(module
  (memory (export "memory") 1)
  (global $count (export "count") (mut i32) (i32.const 0))
  (data (i32.const 0) "200\\n\\n")
  {ALLOC}
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32) (local $start i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (local.set $n (global.get $count))
    (local.set $start (i32.const 1024))
    (loop $digits
      (local.set $start (i32.sub (local.get $start) (i32.const 1)))
      (i32.store8 (local.get $start)
                  (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digits (local.get $n)))
    (local.set $start (i32.sub (local.get $start) (i32.const 5)))
    (memory.copy (local.get $start) (i32.const 0) (i32.const 5))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $start)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (i32.const 1024) (local.get $start)))))
)
"""

# Loops forever when the path is /loop (request byte 4 is '/' and byte 5 is 'l'), else answers.
LOOP_WAT = f"""
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "200\\n\\nok")
  {ALLOC}
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (if (i32.eq (i32.load8_u (i32.add (local.get $ptr) (i32.const 5))) (i32.const 108))
      (then (loop $forever (br $forever))))
    (i64.const 7))
)
"""

# Grows memory one page at a time until refused, then traps.
HOG_WAT = f"""
(module
  (memory (export "memory") 1)
  {ALLOC}
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable)
)
"""

BIG_MEMORY_WAT = f"""
(module
  (memory (export "memory") 200)
  {ALLOC}
  (func (export "handle") (param i32 i32) (result i64) (i64.const 0))
)
"""


def wasm_of(wat: str) -> tuple[bytes, str]:
    """Compile WAT and return the bytes with their content digest."""
    wasm = wasmtime.wat2wasm(wat)
    return bytes(wasm), "sha256:" + hashlib.sha256(wasm).hexdigest()


def wasm_task(task_id: str, wat: str, **extra: object) -> TaskSpec:
    """A wasm TaskSpec for the module ``wat``."""
    wasm, digest = wasm_of(wat)
    return TaskSpec(task_id=task_id, runtime="wasm", wasm_module=wasm, digest=digest, **extra)  # type: ignore[arg-type]
