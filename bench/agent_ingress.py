"""Benchmark: the agent's idle memory and assignment-to-first-request latency.

Run: ``.venv/bin/python bench/agent_ingress.py [--runs 10]`` from the repository root.
Starts a real server and a real agent on loopback. Targets: idle agent RSS < 60 MB; from the
assignment written to the store to the first 200 through the ingress, p50 < 100 ms for Wasm and
< 500 ms for a process (``python3 -m http.server``).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agent.drivers.wasm_modules import COUNTER_WAT
from tests.agent.harness import Fleet
from tests.e2e.conftest import ServerProcess, free_port


def first_ok(url: str, timeout: float = 20.0) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.002)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def latency(fleet: Fleet, node_id: str, ingress: str, name: str, spec: dict[str, object]) -> float:
    """Milliseconds from writing the assignment to the first 200 through the ingress."""
    start = time.perf_counter()
    fleet.assign(node_id, name, spec)
    first_ok(f"{ingress}/w/{name}/")
    return (time.perf_counter() - start) * 1000


def latency_via_api(fleet: Fleet, ingress: str, name: str, spec: dict[str, object]) -> float:
    """Milliseconds from ``POST /workloads`` to the first 200 through the ingress: the server's
    reconciler places the replica and writes the assignment, which wakes the watch at once."""
    start = time.perf_counter()
    answer = fleet.api.post("/workloads", json={"metadata": {"name": name}, "spec": spec})
    assert answer.status_code == 201, answer.text
    first_ok(f"{ingress}/w/{name}/")
    return (time.perf_counter() - start) * 1000


def clear(fleet: Fleet, names: list[str]) -> None:
    """Delete workloads (and so their instances) and wait until the agent has let them go."""
    for name in names:
        fleet.api.delete(f"/workloads/{name}")
    time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
        env["EDGEORCH_CONFIG"] = str(tmp / "client.yaml")
        server = ServerProcess(tmp / "server", free_port(), env, tmp / "server.log")
        server.start()
        fleet = Fleet(server, tmp)
        try:
            agent = fleet.agent("bench")
            agent.entry = ("-m", "edgeorch.agent")  # the light entry point an edge box would run
            agent.start()
            node_id = agent.node_id()
            time.sleep(3)  # a few heartbeats and watch polls: idle, joined, nothing assigned
            assert agent.process is not None
            rss = psutil.Process(agent.process.pid).memory_info().rss / 1e6
            digest = fleet.upload(wasmtime.wat2wasm(COUNTER_WAT))
            wasm = [
                latency(
                    fleet,
                    node_id,
                    agent.ingress,
                    f"wasm-{i}",
                    {
                        "runtime": "wasm",
                        "artifact": {"digest": digest},
                    },
                )
                for i in range(args.runs)
            ]
            # A node holds at most 10 instances (max_edge_vms_per_node): clear the slots.
            clear(fleet, [f"wasm-{i}" for i in range(args.runs)])
            wasm_api = [
                latency_via_api(
                    fleet, agent.ingress, f"wasm-api-{i}",
                    {"runtime": "wasm", "artifact": {"digest": digest}},
                )
                for i in range(args.runs)
            ]  # fmt: skip
            clear(fleet, [f"wasm-api-{i}" for i in range(args.runs)])
            procs = []
            for i in range(args.runs):
                port = free_port()
                command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
                spec = {
                    "runtime": "process",
                    "artifact": {"command": command, "port": port},
                    "resources": {"memory_mb": 512},
                }
                procs.append(latency(fleet, node_id, agent.ingress, f"proc-{i}", spec))
        finally:
            fleet.close()
            server.stop()
    print(f"| measure (runs={args.runs}) | p50 | max | target |")
    print("|---|---|---|---|")
    print(f"| agent idle RSS | {rss:.1f} MB | | < 60 MB |")
    print(f"| assignment written by another process → first 200, wasm | "
          f"{statistics.median(wasm):.0f} ms | "
          f"{max(wasm):.0f} ms | < 100 ms |")  # fmt: skip
    print(f"| POST /workloads → placed → first 200, wasm | {statistics.median(wasm_api):.0f} ms | "
          f"{max(wasm_api):.0f} ms | < 100 ms |")  # fmt: skip
    print(f"| assignment → first 200, process | {statistics.median(procs):.0f} ms | "
          f"{max(procs):.0f} ms | < 500 ms |")  # fmt: skip


if __name__ == "__main__":
    main()
