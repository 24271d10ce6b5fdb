"""Fleet-simulator scale benchmark: N simulated agents heartbeating against one server.

The server is a real ``edgeorch server`` process (SQLite, loopback); the agents run in this
process on one event loop (``edgeorch.sim.runner``), speaking the real agent protocol. Measures,
once every node has joined (and the ``--workloads`` are running):

- heartbeat latency p50/p99 as the agents see it, and heartbeats ok/failed;
- the server's CPU (% of one core, sampled every second) and RSS, and this process's CPU;
- node-state changes to ``suspect``/``down`` recorded while nothing was killed (false node-downs);
- with ``--kill K``: K nodes die at once after the steady-state window; the time until every
  workload that had an instance on them runs all its replicas on live nodes again.

The agents' HTTP stack is the simulator's own (``edgeorch.sim.transport``: ``SimClient`` over
``SimTransport``'s keep-alive connections), as ``edgeorch simulate`` uses it.

Usage: .venv/bin/python bench/sim_scale.py [--nodes 10000] [--interval 10] [--duration 600]
       [--settle 30]
       [--watch-timeout 55] [--no-watch] [--workloads 0 --replicas 2] [--kill 0] [--profile FILE]
"""

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil

from edgeorch.config import freeze_survivors, tune_garbage_collector
from edgeorch.sim.fleet import generate_fleet
from edgeorch.sim.runner import SimConfig, Simulation, run_on_loop

TOKEN = "bench-admin-token-0123456789abcdef"
STATE_REASONS = ("NodeSuspect", "NodeDown")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sampler:
    """Samples processes' CPU and RSS every second in a thread."""

    def __init__(self, server: int) -> None:
        self.proc = psutil.Process(server)
        self.me = psutil.Process(os.getpid())
        self.cpu: list[float] = []
        self.rss: list[int] = []
        self.sim_cpu: list[float] = []
        self.sim_rss: list[int] = []
        # The controller process (a child of the server, edgeorch.controllers.process).
        self.child: psutil.Process | None = None
        self.child_cpu: list[float] = []
        self.child_rss: list[int] = []
        self.stop = threading.Event()
        self.proc.cpu_percent(None)
        self.me.cpu_percent(None)
        threading.Thread(target=self._run, daemon=True).start()

    def _find_child(self) -> None:
        for proc in self.proc.children():
            try:
                if "edgeorch.controllers" in proc.cmdline():
                    self.child = proc
                    proc.cpu_percent(None)
            except psutil.Error:
                continue

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            self.cpu.append(self.proc.cpu_percent(None))
            self.rss.append(self.proc.memory_info().rss)
            self.sim_cpu.append(self.me.cpu_percent(None))
            self.sim_rss.append(self.me.memory_info().rss)
            if self.child is None:
                self._find_child()
                continue
            try:
                self.child_cpu.append(self.child.cpu_percent(None))
                self.child_rss.append(self.child.memory_info().rss)
            except psutil.Error:
                self.child = None  # restarted: find the new one

    def reset(self) -> None:
        self.cpu.clear()
        self.rss.clear()
        self.sim_cpu.clear()
        self.sim_rss.clear()
        self.child_cpu.clear()
        self.child_rss.clear()


_BEAT = 'route="/api/v1/agent/nodes/{node_id}/heartbeat"'
_BEAT_BUCKETS = "edgeorch_http_request_duration_seconds_bucket"
_LAG_BUCKETS = "edgeorch_event_loop_lag_seconds_bucket"
_GC = "edgeorch_python_gc_pause_seconds"


async def _buckets(client: httpx.AsyncClient) -> dict[str, dict[float, float]]:
    """The server's heartbeat latency and event-loop lag histograms (cumulative counts by
    upper bound)."""
    text = (await client.get("/metrics")).text
    out: dict[str, dict[float, float]] = {_BEAT_BUCKETS: {}, _LAG_BUCKETS: {}, _GC: {}}
    for line in text.splitlines():
        name = line.split("{", 1)[0]
        if name in (f"{_GC}_sum", f"{_GC}_count"):  # keyed by generation, + 10 for the count
            if 'process="server"' not in line:
                continue
            generation = float(line.split('generation="', 1)[1][0])
            key = generation + (10 if name.endswith("_count") else 0)
            out[_GC][key] = float(line.rsplit(" ", 1)[1])
            continue
        if name not in out or (
            name == _BEAT_BUCKETS and (_BEAT not in line or '"200"' not in line)
        ):
            continue
        le = float(line.split('le="', 1)[1].split('"', 1)[0])
        out[name][le] = out[name].get(le, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def _bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound (ms) of the bucket holding quantile ``q`` of the beats in between."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if total and count >= q * total:
            return bound * 1000
    return float("nan")


async def _pages(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 1000, **params, **({"continue": cursor} if cursor else {})}
        answer = await client.get(path, params=query)
        answer.raise_for_status()
        data = answer.json()
        items += data["items"]
        cursor = data["metadata"].get("continue")
        if not cursor:
            return items


async def _state_events(client: httpx.AsyncClient, since: int) -> Counter[str]:
    events = await _pages(client, "/api/v1/events", kind="Node", since_revision=since)
    return Counter(e["reason"] for e in events if e["reason"] in STATE_REASONS)


async def _revision(client: httpx.AsyncClient) -> int:
    answer = await client.get("/api/v1/events", params={"limit": 1})
    return int(answer.json()["metadata"]["revision"])


async def _apply_workloads(client: httpx.AsyncClient, count: int, replicas: int) -> None:
    for i in range(count):
        body = {
            "metadata": {"name": f"bench-{i:04d}"},
            "spec": {
                "runtime": "process",
                "artifact": {"command": ["sleep", "3600"]},
                "replicas": replicas,
                "resources": {"cpu": 0.1, "memory_mb": 64},
            },
        }
        answer = await client.post("/api/v1/workloads", json=body)
        answer.raise_for_status()


async def _placement(client: httpx.AsyncClient) -> dict[str, list[str]]:
    """Workload id → the nodes its running instances are on."""
    out: dict[str, list[str]] = {}
    for item in await _pages(client, "/api/v1/instances", state="running"):
        node = item["spec"].get("node_id")
        if node:
            out.setdefault(item["spec"]["workload_id"], []).append(node)
    return out


async def _wait_running(client: httpx.AsyncClient, expected: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        running = sum(len(v) for v in (await _placement(client)).values())
        if running >= expected:
            break
        await asyncio.sleep(2.0)
    return time.monotonic() - started


async def _run(
    args: argparse.Namespace, config: SimConfig, sampler: Sampler, url: str
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {TOKEN}"}
    admin = httpx.AsyncClient(base_url=url, headers=headers, timeout=120)
    sim = Simulation(config)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _dump_tasks)
    freeze_survivors(asyncio.get_running_loop())
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(sim.run(stop))
    shown = 0.0
    while sim.stats.joined + sim.stats.join_failures < args.nodes:
        await asyncio.sleep(1.0)
        if time.monotonic() - shown >= 10:
            shown = time.monotonic()
            print(f"joined {sim.stats.joined} of {args.nodes} after {shown - started:.0f} s "
                  f"(server CPU {sampler.cpu[-1] if sampler.cpu else 0:.0f} %)",
                  file=sys.stderr, flush=True)  # fmt: skip
    out: dict[str, Any] = {"join_s": time.monotonic() - started}
    expected = args.workloads * args.replicas
    if expected:
        await _apply_workloads(admin, args.workloads, args.replicas)
        out["place_s"] = await _wait_running(admin, expected, 600)
    # Steady state only: what happened while nodes joined and instances started is dropped,
    # and so is the backlog the join storm leaves (the last joiners' first beats and watches,
    # the controllers catching up): up to a second of latency in the first seconds after it.
    await asyncio.sleep(args.settle)
    since = await _revision(admin)
    sim.stats.heartbeat_latencies.clear()
    sim.stats.heartbeats = sim.stats.heartbeat_failures = 0
    sampler.reset()
    own_lag: list[float] = []
    lag_task = asyncio.create_task(_loop_lag(own_lag))
    buckets_before = await _buckets(admin)
    spy = None
    if args.profile:  # py-spy --gil: where the server's CPU goes during the window
        spy = subprocess.Popen(
            # --nonblocking: the default pauses the server per sample (joins fell to ~1/s).
            [str(Path(sys.executable).with_name("py-spy")), "record", "--gil", "--nonblocking",
             "-r", "100", "-f", "raw", "-o", args.profile, "-d", str(int(args.duration)),
             "--pid", str(sampler.proc.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    await _progress(sim, sampler, args.duration)
    if spy is not None:
        spy.wait(60)
    lag_task.cancel()
    out["steady"] = _snapshot(sim, sampler, own_lag)
    after = await _buckets(admin)
    for key, name, q in (
        ("server_p50", _BEAT_BUCKETS, 0.5),
        ("server_p99", _BEAT_BUCKETS, 0.99),
        ("lag_p99", _LAG_BUCKETS, 0.99),
    ):
        out["steady"][key] = _bucket_quantile(buckets_before[name], after[name], q)
    gc_before, gc_after = buckets_before[_GC], after[_GC]
    out["steady"]["gc"] = {
        g: (
            gc_after.get(g + 10, 0) - gc_before.get(g + 10, 0),
            gc_after.get(g, 0) - gc_before.get(g, 0),
        )
        for g in (0, 1, 2)
    }
    out["false_downs"] = await _state_events(admin, since)
    if args.kill:
        out["kill"] = await _kill(args, sim, admin, expected)
    stop.set()
    await task
    await admin.aclose()
    return out


async def _loop_lag(into: list[float]) -> None:
    """How late this process's event loop runs a 100 ms timer (the agents' side of a beat's
    latency: an answer waits this long to be read)."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(0.1)
        into.append(max(0.0, loop.time() - before - 0.1))


async def _progress(sim: Simulation, sampler: Sampler, duration: float) -> None:
    """Wait ``duration`` seconds, printing the heartbeats answered every 30 s."""
    end = time.monotonic() + duration
    beats = 0
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(30.0, left))
        done, beats = sim.stats.heartbeats - beats, sim.stats.heartbeats
        print(f"window: {done} heartbeats answered in the last {min(30.0, left):.0f} s, "
              f"{sim.stats.heartbeat_failures} failed in all "
              f"(server CPU {sampler.cpu[-1] if sampler.cpu else 0:.0f} %)",
              file=sys.stderr, flush=True)  # fmt: skip


def _dump_tasks(*_: object) -> None:
    """SIGUSR1: where every task of the simulator's loop waits (stderr), to see a stall."""
    waits: Counter[str] = Counter()
    for task in asyncio.all_tasks():
        frames = task.get_stack()
        where = f"{frames[-1].f_code.co_filename}:{frames[-1].f_lineno}" if frames else "(none)"
        waits[where] += 1
    for where, count in waits.most_common(20):
        print(f"tasks: {count} waiting at {where}", file=sys.stderr, flush=True)


def _first_last(samples: list[int]) -> tuple[float, float]:
    """The first and last of RSS samples, in MB."""
    return (samples[0] / 1e6, samples[-1] / 1e6) if samples else (0.0, 0.0)


def _p50_p99_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples) or [0.0]
    return ordered[len(ordered) // 2] * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000


def _snapshot(sim: Simulation, sampler: Sampler, own_lag: list[float]) -> dict[str, Any]:
    latencies = sim.stats.heartbeat_latencies
    p50, p99 = _p50_p99_ms(latencies)
    cpu = sorted(sampler.cpu) or [0.0]
    return {
        "beats": sim.stats.heartbeats,
        "failed": sim.stats.heartbeat_failures,
        "p50": p50,
        "p99": p99,
        "sim_lag": _p50_p99_ms(own_lag),
        "cpu_mean": sum(cpu) / len(cpu),
        "cpu_p95": cpu[int(0.95 * (len(cpu) - 1))],
        "rss": max(sampler.rss or [0]) / 1e6,
        "sim_cpu": sum(sampler.sim_cpu) / max(1, len(sampler.sim_cpu)),
        "child_cpu": sum(sampler.child_cpu) / max(1, len(sampler.child_cpu)),
        "child_rss": max(sampler.child_rss or [0]) / 1e6,
        "sim_rss": _first_last(sampler.sim_rss),
        "rss_first_last": _first_last(sampler.rss),
        "over_100ms": sum(1 for v in latencies if v > 0.1),
    }


async def _kill(
    args: argparse.Namespace, sim: Simulation, admin: httpx.AsyncClient, expected: int
) -> dict[str, Any]:
    placement = await _placement(admin)
    names = {a.credential.node_id: name for name, a in sim.agents.items() if a.credential}
    victims = random.Random(1).sample(sorted(names), args.kill)
    dead = set(victims)
    hit = {w for w, nodes in placement.items() if dead & set(nodes)}
    since = await _revision(admin)
    sim.kill([names[n] for n in victims])
    killed_at = time.monotonic()
    recovered: dict[str, float] = {}
    while len(recovered) < len(hit) and time.monotonic() - killed_at < args.kill_timeout:
        await asyncio.sleep(2.0)
        now = await _placement(admin)
        for w in hit - recovered.keys():
            if len([n for n in now.get(w, []) if n not in dead]) >= args.replicas:
                recovered[w] = time.monotonic() - killed_at
    times = sorted(recovered.values()) or [0.0]
    events = await _state_events(admin, since)
    return {
        "killed": args.kill,
        "workloads_hit": len(hit),
        "instances_hit": sum(len(dead & set(n)) for n in placement.values()),
        "recovered": len(recovered),
        "p50_s": times[len(times) // 2],
        "all_s": times[-1] if len(recovered) == len(hit) else None,
        "down_events": events.get("NodeDown", 0),
        "suspect_events": events.get("NodeSuspect", 0),
    }


def _report(args: argparse.Namespace, out: dict[str, Any]) -> None:
    steady = out["steady"]
    expected = args.nodes * args.duration / args.interval
    watch = "off" if args.no_watch else f"{args.watch_timeout:g} s"
    print(f"| nodes | {args.nodes} |")
    print(f"| heartbeat interval / watch long-poll | {args.interval:g} s / {watch} |")
    print(f"| node suspect / down after silence | {3 * args.interval:g} s / "
          f"{6 * args.interval:g} s |")  # fmt: skip
    print(f"| join all nodes (mint + join) | {out['join_s']:.0f} s |")
    if "place_s" in out:
        placed = f"{args.workloads} workloads x {args.replicas} replicas running"
        print(f"| {placed} | {out['place_s']:.0f} s |")
    print(f"| steady-state window (after settling) | {args.duration:g} s ({args.settle:g} s) |")
    print(f"| heartbeats ok / failed / expected | {steady['beats']} / {steady['failed']} / "
          f"{expected:.0f} |")  # fmt: skip
    print(f"| heartbeat p50 / p99 (as the agents see it) | {steady['p50']:.1f} / "
          f"{steady['p99']:.1f} ms |")  # fmt: skip
    print(f"| heartbeat p50 / p99 in the server (bucket bounds) | <= {steady['server_p50']:g} / "
          f"<= {steady['server_p99']:g} ms |")  # fmt: skip
    print(f"| server event-loop lag p99 (bucket bound) | <= {steady['lag_p99']:g} ms |")
    shown = ", ".join(f"gen {g}: {n:.0f} ({t:.2f} s)" for g, (n, t) in steady.get("gc", {}).items())
    print(f"| server garbage collections (their pauses) | {shown} |")
    print(f"| server CPU mean / p95 (% of one core) | {steady['cpu_mean']:.0f} / "
          f"{steady['cpu_p95']:.0f} |")  # fmt: skip
    print(f"| controller process CPU mean (% of one core) | {steady['child_cpu']:.0f} |")
    print(f"| simulator CPU mean (% of one core) | {steady['sim_cpu']:.0f} |")
    print(f"| server RSS max / controller process RSS max | {steady['rss']:.0f} / "
          f"{steady['child_rss']:.0f} MB |")  # fmt: skip
    print(f"| server RSS at the window's start / end | {steady['rss_first_last'][0]:.0f} / "
          f"{steady['rss_first_last'][1]:.0f} MB |")  # fmt: skip
    print(f"| simulator RSS at the window's start / end | {steady['sim_rss'][0]:.0f} / "
          f"{steady['sim_rss'][1]:.0f} MB |")  # fmt: skip
    print(f"| heartbeats slower than 100 ms (as the agents see it) | {steady['over_100ms']} |")
    print(f"| simulator event-loop lag p50 / p99 | {steady['sim_lag'][0]:.1f} / "
          f"{steady['sim_lag'][1]:.1f} ms |")  # fmt: skip
    downs = out["false_downs"]
    shown = ", ".join(f"{k} {v}" for k, v in sorted(downs.items())) or "none"
    print(f"| false node suspect/down (steady state) | {shown} |")
    kill = out.get("kill")
    if kill:
        print(f"| killed at once | {kill['killed']} nodes ({kill['instances_hit']} instances of "
              f"{kill['workloads_hit']} workloads) |")  # fmt: skip
        done = "not all" if kill["all_s"] is None else f"{kill['all_s']:.0f} s"
        print(f"| workloads whole again on live nodes: p50 / all | {kill['p50_s']:.0f} s / "
              f"{done} ({kill['recovered']} of {kill['workloads_hit']}) |")  # fmt: skip
        print(f"| NodeSuspect / NodeDown events after the kill | {kill['suspect_events']} / "
              f"{kill['down_events']} |")  # fmt: skip


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument(
        "--settle", type=float, default=30.0, help="seconds between the joins and the window"
    )
    parser.add_argument("--watch-timeout", type=float, default=55.0)
    parser.add_argument("--no-watch", action="store_true", help="heartbeats only, no long-polls")
    parser.add_argument("--workloads", type=int, default=0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--kill", type=int, default=0, help="nodes to kill after the window")
    parser.add_argument("--kill-timeout", type=float, default=600.0)
    parser.add_argument(
        "--profile",
        default="",
        help="py-spy raw stacks of the server here (pip install -e '.[bench]')",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sim-scale-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env |= {"EDGEORCH_BOOTSTRAP_TOKEN": TOKEN, "EDGEORCH_CONFIG": str(tmp / "client.yaml")}
    # Suspect after three missed beats and down after six, as the defaults are for the agents'
    # default 5 s interval (controllers/settings.py): 15 s / 30 s with 10 s beats would call a
    # node suspect after one and a half intervals.
    env |= {
        "EDGEORCH_NODE_SUSPECT_AFTER": f"{3 * args.interval:g}",
        "EDGEORCH_NODE_DOWN_AFTER": f"{6 * args.interval:g}",
    }
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
        tune_garbage_collector()  # as edgeorch simulate does (and freeze_survivors in _run)
        out = run_on_loop(_run(args, config, sampler, url))
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        print(f"(server log: {tmp / 'server.log'})", file=sys.stderr)
    _report(args, out)


if __name__ == "__main__":
    main()
