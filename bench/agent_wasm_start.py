"""Benchmark: wasm task start and request latency through the wasm driver.

Run: ``.venv/bin/python bench/agent_wasm_start.py [--starts 1000] [--requests 10000]``

Prints a markdown table: compile and cache-load times for the module, the p50/p99 of a task start
with the module already compiled (``WasmDriver.start``: digest check, cache lookup, log files,
store, WASI, instantiation) and of the bare instantiation inside it, and the p50/p99 of a request
through ``handle_http`` (encode, alloc, copy in, handle, copy out, decode).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime

from edgeorch.agent.drivers.base import TaskSpec
from edgeorch.agent.drivers.wasm import WasmDriver
from edgeorch.agent.drivers.wasm_engine import WasmEngine

COUNTER_WAT = """
(module
  (memory (export "memory") 1)
  (global $count (export "count") (mut i32) (i32.const 0))
  (data (i32.const 0) "200\\n\\n")
  (func (export "alloc") (param $len i32) (result i32)
    (local $need i32)
    (local.set $need (i32.shr_u
      (i32.add (i32.add (i32.const 4096) (local.get $len)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
        (then (return (i32.const 0))))))
    (i32.const 4096))
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


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Wall-clock milliseconds of ``n`` calls."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def pct(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=10000)
    args = parser.parse_args()

    wasm = bytes(wasmtime.wat2wasm(COUNTER_WAT))
    digest = "sha256:" + hashlib.sha256(wasm).hexdigest()
    data_dir = Path(tempfile.mkdtemp(prefix="edgeorch-bench-"))
    engine = WasmEngine()
    rows: list[tuple[str, int, float, float]] = []

    compile_ms = timed(lambda: wasmtime.Module(engine.engine, wasm), 20)
    rows.append(("compile module (no cache)", 20, pct(compile_ms, 50), pct(compile_ms, 99)))

    driver = WasmDriver(data_dir, engine=engine)
    driver.start(TaskSpec("warm", "wasm", wasm_module=wasm, digest=digest, memory_mb=16))
    cwasm = str(data_dir / "modules" / f"{digest.removeprefix('sha256:')}.cwasm")
    load_ms = timed(lambda: wasmtime.Module.deserialize_file(engine.engine, cwasm), 20)
    rows.append(("load module from disk cache", 20, pct(load_ms, 50), pct(load_ms, 99)))

    counter = iter(range(10**9))

    def start_task() -> None:
        task_id = f"t{next(counter)}"
        spec = TaskSpec(task_id, "wasm", wasm_module=wasm, digest=digest, memory_mb=16)
        driver.start(spec)

    start_ms = timed(start_task, args.starts)
    rows.append(("task start (compiled module)", args.starts, pct(start_ms, 50), pct(start_ms, 99)))
    entry = driver._tasks["warm"]
    instantiate_ms = timed(lambda: driver._instantiate(entry), args.starts)
    rows.append(
        ("instantiation only", args.starts, pct(instantiate_ms, 50), pct(instantiate_ms, 99))
    )

    request_ms = timed(lambda: driver.handle_http("warm", "GET", "/", {}, b""), args.requests)
    rows.append(
        ("request via handle_http", args.requests, pct(request_ms, 50), pct(request_ms, 99))
    )
    snap_ms = timed(lambda: driver.snapshot("warm"), 100)
    rows.append(("snapshot (1 page memory)", 100, pct(snap_ms, 50), pct(snap_ms, 99)))

    print("| measurement | n | p50 (ms) | p99 (ms) |")
    print("|---|---:|---:|---:|")
    for name, n, p50, p99 in rows:
        print(f"| {name} | {n} | {p50:.3f} | {p99:.3f} |")
    print(f"\nmean request: {statistics.mean(request_ms):.3f} ms")


if __name__ == "__main__":
    main()
