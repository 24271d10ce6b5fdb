"""Benchmark: the agent's idle memory and assignment-to-first-request latency.

Run: ``.venv/bin/python bench/agent_ingress.py [--runs 10]`` from the repository root.
Starts a real server and a real agent on loopback. Targets: idle agent RSS < 60 MB (measured for
both ways to start it: ``python -m edgeorch.agent`` and the ``edgeorch agent`` console script);
from the assignment written to the store to the first 200 through the ingress, p50 < 100 ms for
Wasm and < 500 ms for a process (``python3 -m http.server``).

Timing: the clock starts before the write (so a row includes the writer's own commit, an fsync
on SQLite); "from commit" rows start it when the write has returned. The poller's HTTP client is
made once, before any clock starts (a new httpx client loads the CA bundle: about 60 ms).
``--settle S`` waits S seconds between runs (default 0.5) so that one run does not measure the
previous one's aftermath (the agent reporting the last instance running, which gives the
server's reconciler a pass and its pacing rest); ``--settle 0`` runs them back to back.
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
from tests.agent.harness import AgentProcess, Fleet
from tests.e2e.conftest import ServerProcess, free_port

POLLER = httpx.Client(timeout=2)  # one client for every poll, made before any clock starts


def first_ok(url: str, timeout: float = 20.0) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if POLLER.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.002)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def latency(
    fleet: Fleet, node_id: str, ingress: str, name: str, spec: dict[str, object], settle: float
) -> tuple[float, float]:
    """Milliseconds to the first 200 through the ingress, from the start of the assignment's
    write and from its commit."""
    time.sleep(settle)
    start = time.perf_counter()
    fleet.assign(node_id, name, spec)
    committed = time.perf_counter()
    first_ok(f"{ingress}/w/{name}/")
    end = time.perf_counter()
    return (end - start) * 1000, (end - committed) * 1000


def latency_via_api(
    fleet: Fleet, ingress: str, name: str, spec: dict[str, object], settle: float
) -> float:
    """Milliseconds from ``POST /workloads`` to the first 200 through the ingress: the server's
    reconciler places the replica and writes the assignment, which wakes the watch at once."""
    time.sleep(settle)
    start = time.perf_counter()
    answer = fleet.api.post("/workloads", json={"metadata": {"name": name}, "spec": spec})
    assert answer.status_code == 201, answer.text
    first_ok(f"{ingress}/w/{name}/")
    return (time.perf_counter() - start) * 1000


def idle_rss(agent: AgentProcess) -> float:
    """RSS in MB of a started agent once it has joined and idled through a few heartbeats."""
    agent.start()
    agent.node_id()
    time.sleep(3)  # a few heartbeats and watch polls: idle, joined, nothing assigned
    assert agent.process is not None
    return float(psutil.Process(agent.process.pid).memory_info().rss / 1e6)


def row(label: str, values: list[float], target: str) -> str:
    return f"| {label} | {statistics.median(values):.0f} ms | {max(values):.0f} ms | {target} |"


def clear(fleet: Fleet, names: list[str]) -> None:
    """Delete workloads (and so their instances) and wait until the agent has let them go."""
    for name in names:
        fleet.api.delete(f"/workloads/{name}")
    time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--settle", type=float, default=0.5, help="seconds between runs")
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
            rss = idle_rss(agent)
            node_id = agent.node_id()
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
                    args.settle,
                )
                for i in range(args.runs)
            ]
            # A node holds at most 10 instances (max_edge_vms_per_node): clear the slots.
            clear(fleet, [f"wasm-{i}" for i in range(args.runs)])
            wasm_api = [
                latency_via_api(
                    fleet, agent.ingress, f"wasm-api-{i}",
                    {"runtime": "wasm", "artifact": {"digest": digest}}, args.settle,
                )
                for i in range(args.runs)
            ]  # fmt: skip
            clear(fleet, [f"wasm-api-{i}" for i in range(args.runs)])
            assert agent.process is not None
            rss_wasm = psutil.Process(agent.process.pid).memory_info().rss / 1e6
            procs = []
            for i in range(args.runs):
                port = free_port()
                command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
                spec = {
                    "runtime": "process",
                    "artifact": {"command": command, "port": port},
                    "resources": {"memory_mb": 512},
                }
                procs.append(latency(fleet, node_id, agent.ingress, f"proc-{i}", spec, args.settle))
            # The console script, as users start it (last: the reconciler could place on it).
            script = fleet.agent("bench-cli")
            script.entry = (str(Path(sys.executable).with_name("edgeorch")), "agent")
            rss_cli = idle_rss(script)
        finally:
            POLLER.close()
            fleet.close()
            server.stop()
    print(f"| measure (runs={args.runs}, settle {args.settle:g} s) | p50 | max | target |")
    print("|---|---:|---:|---|")
    print(f"| agent idle RSS, `python -m edgeorch.agent` | {rss:.1f} MB | | < 60 MB |")
    print(f"| agent idle RSS, `edgeorch agent` | {rss_cli:.1f} MB | | < 60 MB |")
    print(f"| agent RSS after the wasm runs (wasmtime loaded) | {rss_wasm:.1f} MB | | |")
    print(row("assignment written by another process → first 200, wasm", [w for w, _ in wasm],
              "< 100 ms"))  # fmt: skip
    print(row("same, from the write's commit", [c for _, c in wasm], ""))
    print(row("POST /workloads → placed → first 200, wasm", wasm_api, "< 100 ms"))
    print(row("assignment → first 200, process", [w for w, _ in procs], "< 500 ms"))


if __name__ == "__main__":
    main()
