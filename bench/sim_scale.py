"""Fleet-simulator scale benchmark: N simulated agents heartbeating against one server.

The server is a real ``edgeorch server`` process (SQLite, loopback); the agents run in this
process on one event loop (``edgeorch.sim.runner``). Measures, after every node has joined:
heartbeat latency (p50/p99, measured by the agents), the server's CPU (% of one core, sampled)
and RSS, and node-state changes to ``suspect``/``down`` (false node-down) from the event log
when a node-lifecycle controller records them.

Usage: .venv/bin/python bench/sim_scale.py [--nodes 10000] [--interval 10] [--duration 600]
       [--watch-timeout 30]      (--duration 120 for a quick run)
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from edgeorch.sim.fleet import generate_fleet
from edgeorch.sim.runner import SimConfig, Simulation

TOKEN = "bench-admin-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sampler:
    """Samples a process's CPU and RSS every second in a thread."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.cpu: list[float] = []
        self.rss: list[int] = []
        self.stop = threading.Event()
        self.proc.cpu_percent(None)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            self.cpu.append(self.proc.cpu_percent(None))
            self.rss.append(self.proc.memory_info().rss)

    def reset(self) -> None:
        self.cpu.clear()
        self.rss.clear()


def _state_events(url: str) -> dict[str, int]:
    headers = {"authorization": f"Bearer {TOKEN}"}
    counts: dict[str, int] = {}
    answer = httpx.get(f"{url}/api/v1/events", params={"limit": 1000}, headers=headers, timeout=60)
    for event in answer.json().get("items", []):
        reason = event.get("reason", "")
        if any(w in reason.lower() for w in ("down", "suspect", "lost")):
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--watch-timeout", type=float, default=30.0)
    parser.add_argument("--no-watch", action="store_true", help="heartbeats only, no long-polls")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sim-scale-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env |= {"EDGEORCH_BOOTSTRAP_TOKEN": TOKEN, "EDGEORCH_CONFIG": str(tmp / "client.yaml")}
    cmd = [sys.executable, "-m", "edgeorch", "server", "--data-dir", str(tmp / "data"),
           "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        sampler = Sampler(server.pid)
        nodes = generate_fleet(args.nodes, ["us-west", "us-east", "eu-west"], seed=1)
        config = SimConfig(
            server=url,
            nodes=nodes,
            admin_token=TOKEN,
            heartbeat_interval=args.interval,
            watch_timeout=args.watch_timeout,
            watch=not args.no_watch,
            request_timeout=60.0,
        )
        result = asyncio.run(_run(config, sampler, args.duration, args.nodes))
        events = _state_events(url)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    _report(args, result, sampler, events)


async def _run(config: SimConfig, sampler: Sampler, duration: float, count: int) -> dict[str, Any]:
    sim = Simulation(config)
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(sim.run(stop))
    while sim.stats.joined + sim.stats.join_failures < count:
        await asyncio.sleep(1.0)
    joined_after = time.monotonic() - started
    # Measure steady state only: heartbeats and samples taken while nodes were joining are
    # dropped.
    sim.stats.heartbeat_latencies.clear()
    sim.stats.heartbeats = sim.stats.heartbeat_failures = 0
    sampler.reset()
    await asyncio.sleep(duration)
    stop.set()
    summary = await task
    return {"summary": summary, "join_s": joined_after}


def _report(args: Any, result: dict[str, Any], sampler: Sampler, events: dict[str, int]) -> None:
    summary = result["summary"]
    cpu = sorted(sampler.cpu) or [0.0]
    rss = max(sampler.rss or [0]) / 1e6
    expected = args.nodes * args.duration / args.interval
    print(f"| nodes | {args.nodes} |")
    print(
        f"| heartbeat interval / watch long-poll | {args.interval:g} s / "
        f"{'off' if args.no_watch else f'{args.watch_timeout:g} s'} |"
    )
    print(f"| join all nodes (mint + apply + join) | {result['join_s']:.0f} s |")
    print(f"| steady-state window | {args.duration:g} s |")
    print(f"| heartbeats ok / failed / expected | {summary.heartbeats} / "
          f"{summary.heartbeat_failures} / {expected:.0f} |")  # fmt: skip
    print(f"| heartbeat p50 / p99 | {summary.heartbeat_p50_ms:.1f} / "
          f"{summary.heartbeat_p99_ms:.1f} ms |")  # fmt: skip
    print(f"| server CPU mean / p95 (% of one core) | {sum(cpu) / len(cpu):.0f} / "
          f"{cpu[int(0.95 * (len(cpu) - 1))]:.0f} |")  # fmt: skip
    print(f"| server RSS max | {rss:.0f} MB |")
    shown = ", ".join(f"{k} {v}" for k, v in events.items()) or "none recorded"
    print(f"| node suspect/down/lost events | {shown} |")


if __name__ == "__main__":
    main()
