"""Benchmark: Wasm live-migration downtime with 16 MiB of instance memory, and cold migration.

Run: ``.venv/bin/python bench/migration.py [--live-runs 20] [--cold-runs 10]`` from the
repository root. Starts a real server and two real agents on loopback. A client calls the
workload through the first agent's ingress throughout (the source forwards after a switch), so
failed requests and the longest request seen are measured from outside too.

Targets (issue 5): live downtime p99 <= 50 ms for a 16 MiB memory; cold migration < 1 s.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agent.drivers.wasm_modules import COUNTER_WAT
from tests.agent.harness import Fleet, wait_for
from tests.e2e.conftest import ServerProcess, free_port

MIB = 1 << 20
# The counter of docs/wasm-abi.md with 16 MiB of memory: the first request fills it (so the
# pre-copy has real bytes to move), every request dirties one more 4 KiB chunk.
BIG_COUNTER_WAT = COUNTER_WAT.replace(
    '(memory (export "memory") 1)', '(memory (export "memory") 256)'
).replace(
    "(local.set $n (global.get $count))",
    f"""(if (i32.eq (global.get $count) (i32.const 1))
      (then (memory.fill (i32.const 65536) (i32.const 90) (i32.const {16 * MIB - 65536}))))
    (i32.store (i32.add (i32.const 65536)
                        (i32.rem_u (i32.mul (global.get $count) (i32.const 4099))
                                   (i32.const {16 * MIB - 65536 - 8})))
               (global.get $count))
    (local.set $n (global.get $count))""",
)


class Client(threading.Thread):
    """Calls the workload in a loop: answers, failures, and the slowest request."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.ok = 0
        self.failures: list[str] = []
        self.slowest_ms = 0.0
        self.last = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=15) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    answer = client.get(self.url)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.slowest_ms = max(self.slowest_ms, (time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    self.failures.append(f"{answer.status_code} {answer.text.strip()}")
                    continue
                value = int(answer.text)
                if self.last and value != self.last + 1:
                    self.failures.append(f"counter went from {self.last} to {value}")
                self.last = value
                self.ok += 1


def migrate(fleet: Fleet, instance_id: str, target: str, kind: str) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    body = {"instance": instance_id, "target_node": target, "type": kind, "max_downtime": "50ms"}
    answer = fleet.api.post("/migrations", json=body)
    assert answer.status_code == 201, answer.text
    mid = answer.json()["metadata"]["id"]

    def done() -> dict[str, Any] | None:
        got: dict[str, Any] = fleet.api.get(f"/migrations/{mid}").json()
        return got if got["status"]["state"] not in ("pending", "running") else None

    result: dict[str, Any] = wait_for(done, 60, "the migration")
    elapsed = (time.perf_counter() - start) * 1000
    assert result["status"]["state"] == "succeeded", result["status"]
    return result, elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(fleet: Fleet, live_runs: int, cold_runs: int) -> None:
    a, b = fleet.agent("edge-a"), fleet.agent("edge-b")
    a.start()
    b.start()
    nodes = [a.node_id(), b.node_id()]
    for node in nodes:
        wait_for(lambda n=node: fleet.api.get(f"/edge/nodes/{n}").json()["status"]["state"]
                 == "ready")  # fmt: skip
    big = fleet.upload(wasmtime.wat2wasm(BIG_COUNTER_WAT))
    spec = {"runtime": "wasm", "artifact": {"digest": big}, "replicas": 1,
            "resources": {"cpu": 0.1, "memory_mb": 64}}  # fmt: skip
    instance = fleet.assign(nodes[0], "big", spec)
    wait_for(lambda: fleet.instance(instance).status.state == "running", 30)
    wait_for(lambda: fleet.api.get(f"/edge/nodes/{nodes[0]}").json()["status"]["agent"].get(
        "ingress"))  # fmt: skip
    client = Client(f"{a.ingress}/w/big/")
    client.start()
    wait_for(lambda: client.ok > 50, 30)
    downtimes, totals, rounds, sizes = [], [], [], []
    parts: dict[str, list[float]] = {}
    where = 0
    for _ in range(live_runs):
        where = 1 - where
        result, elapsed = migrate(fleet, instance, nodes[where], "live")
        st = result["status"]
        instance = st["target_instance_id"]
        downtimes.append(st["downtime_ms"])
        totals.append(elapsed)
        rounds.append(st["precopy_rounds"])
        sizes.append(st["bytes_transferred"])
        for key, value in st["details"].get("timings_ms", {}).items():
            parts.setdefault(key, []).append(value)
        # The next migration starts from the new node: wait until it reports its ingress.
        wait_for(lambda i=instance: fleet.instance(i).status.state == "running", 30)
    client.stop.set()
    client.join(20)
    print(f"live, 16 MiB memory, {live_runs} runs, client through the first agent's ingress")
    print(f"  downtime  p50 {statistics.median(downtimes):.1f} ms  p99 {pct(downtimes, .99):.1f}"
          f" ms  max {max(downtimes):.1f} ms")  # fmt: skip
    print(f"  end to end (POST to succeeded) p50 {statistics.median(totals):.0f} ms")
    print("  all downtimes (ms, sorted): " + " ".join(f"{d:.0f}" for d in sorted(downtimes)))
    print("  source timings p50: " + ", ".join(
        f"{k} {statistics.median(v):.1f} ms" for k, v in sorted(parts.items())))  # fmt: skip
    print(f"  pre-copy rounds p50 {statistics.median(rounds):g}; bytes p50 "
          f"{statistics.median(sizes) / MIB:.1f} MiB")  # fmt: skip
    print(f"  client: {client.ok} answers, {len(client.failures)} failed, slowest "
          f"{client.slowest_ms:.0f} ms; failures: {client.failures[:3]}")  # fmt: skip

    small = fleet.upload(wasmtime.wat2wasm(COUNTER_WAT))
    cold = fleet.assign(nodes[0], "small", {"runtime": "wasm", "artifact": {"digest": small}})
    wait_for(lambda: fleet.instance(cold).status.state == "running", 30)
    cold_down, cold_total = [], []
    where = 0
    for _ in range(cold_runs):
        where = 1 - where
        result, elapsed = migrate(fleet, cold, nodes[where], "cold")
        cold = result["status"]["target_instance_id"]
        cold_down.append(result["status"]["downtime_ms"])
        cold_total.append(elapsed)
        wait_for(lambda i=cold: fleet.instance(i).status.state == "running", 30)
    print(f"cold, small wasm, {cold_runs} runs")
    print(f"  stop ordered -> target running p50 {statistics.median(cold_down):.0f} ms  "
          f"max {max(cold_down):.0f} ms")  # fmt: skip
    print(f"  end to end (POST to succeeded) p50 {statistics.median(cold_total):.0f} ms  "
          f"max {max(cold_total):.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--live-runs", type=int, default=20)
    parser.add_argument("--cold-runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
        env["EDGEORCH_CONFIG"] = str(Path(tmp) / "client.yaml")
        server = ServerProcess(Path(tmp) / "server", free_port(), env, Path(tmp) / "server.log")
        server.start()
        fleet = Fleet(server, Path(tmp))
        try:
            run(fleet, args.live_runs, args.cold_runs)
        finally:
            fleet.close()
            server.stop()


if __name__ == "__main__":
    main()
