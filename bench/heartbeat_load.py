"""Heartbeat load benchmark: the server CPU one heartbeat costs, and beats/s at saturation.

Starts a real ``edgeorch server`` (SQLite in a temporary directory, loopback), joins ``--nodes``
nodes through the agent API, then sends heartbeats from ``--concurrency`` closed-loop senders
(each sends its next beat as soon as the previous one is answered, cycling over the nodes) for
``--duration`` seconds, over keep-alive connections with a minimal HTTP/1.1 client (so the
load generator is not the bottleneck). Reports beats/s, the server's CPU time per beat (user +
system, from ``psutil``, so it does not depend on how busy the machine is with other work) and
the latency p50/p99 seen by the senders.

``--persist-every K`` moves every K-th beat's utilization by 0.2, which makes the server write
the node row (``agent/presence.py``); by default utilization moves by less than the 0.1 step,
so only the periodic 30 s refresh writes. ``--profile FILE`` samples the server with py-spy
(``--gil``: only the thread holding the GIL, i.e. CPU, not lock waits) while the load runs and
writes py-spy's raw (collapsed) stacks to FILE.

The server's CPU is also sampled for ``--idle`` seconds with no beats before the load, and the
per-beat figure is given net of that background work too (controllers, change-feed readers).

Usage: .venv/bin/python bench/heartbeat_load.py [--nodes 300] [--duration 15]
       [--concurrency 16] [--persist-every 0] [--idle 5] [--profile out.txt]
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

TOKEN = "bench-admin-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _join_body(i: int) -> dict[str, Any]:
    return {
        "name": f"hb-{i:05d}",
        "facts": {"edge_type": "mec", "region": f"r{i % 5}", "latitude": 48.0,
                  "longitude": 2.0, "country": "FR"},
        "measured": {"arch": "x86_64", "capacity": {"cpu": 16, "memory_mb": 32768}},
    }  # fmt: skip


async def _join(client: httpx.AsyncClient, nodes: int, width: int) -> list[dict[str, Any]]:
    admin = {"Authorization": f"Bearer {TOKEN}"}

    async def one(i: int) -> dict[str, Any]:
        minted = await client.post("/api/v1/tokens", json={"role": "join"}, headers=admin)
        secret = minted.json()["secret"]
        answer = await client.post(
            "/api/v1/agent/join", headers={"Authorization": f"Bearer {secret}"}, json=_join_body(i)
        )
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    creds: list[dict[str, Any]] = []
    for start in range(0, nodes, width):
        creds += await asyncio.gather(*(one(i) for i in range(start, min(start + width, nodes))))
    return creds


class _Connection:
    """A keep-alive HTTP/1.1 connection sending pre-built requests: far cheaper per request
    than a general client, so one client process can saturate the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, token: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


async def _load(
    url: str, creds: list[dict[str, Any]], args: argparse.Namespace
) -> tuple[int, float, list[float], int]:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    failures = 0
    stop = time.monotonic() + args.duration
    sent = 0

    async def sender(k: int) -> None:
        nonlocal failures, sent
        connection = _Connection(host, int(port))
        i = k
        while time.monotonic() < stop:
            cred = creds[i % len(creds)]
            i += args.concurrency
            sent += 1
            jump = args.persist_every and sent % args.persist_every == 0
            cpu = 0.2 + (0.2 * (sent // args.persist_every % 2) if jump else 0.01 * (sent % 3))
            body = json.dumps(
                {"utilization": {"cpu": cpu, "memory": 0.3}, "ingress": "http://127.0.0.1:1"}
            ).encode()
            path = f"/api/v1/agent/nodes/{cred['node_id']}/heartbeat"
            start = time.perf_counter()
            status = await connection.post(path, cred["credential"], body)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                failures += 1
        if connection.writer is not None:
            connection.writer.close()

    started = time.monotonic()
    await asyncio.gather(*(sender(k) for k in range(args.concurrency)))
    return len(latencies), time.monotonic() - started, latencies, failures


def _profiler(pid: int, out: str, seconds: float) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [spy, "record", "--gil", "-r", "200", "-f", "raw", "-o", out,
           "-d", str(int(seconds)), "--pid", str(pid)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _main(args: argparse.Namespace, url: str, server: psutil.Process) -> None:
    limits = httpx.Limits(max_connections=max(64, args.concurrency))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        cpu0, t0 = sum(server.cpu_times()[:2]), time.monotonic()
        creds = await _join(client, args.nodes, args.join_concurrency)
        join_s, join_cpu = time.monotonic() - t0, sum(server.cpu_times()[:2]) - cpu0
        # One untimed round, so every node's first beat after the join is not measured.
        for cred in creds:
            await client.post(
                f"/api/v1/agent/nodes/{cred['node_id']}/heartbeat",
                headers={"Authorization": f"Bearer {cred['credential']}"},
                json={"utilization": {"cpu": 0.2, "memory": 0.3}, "ingress": "http://127.0.0.1:1"},
            )
        # The server's own background work (controllers, change-feed readers) while no beats
        # arrive, so the per-beat figure can be given net of it.
        idle0, idle_t0 = sum(server.cpu_times()[:2]), time.monotonic()
        await asyncio.sleep(args.idle)
        idle = (sum(server.cpu_times()[:2]) - idle0) / (time.monotonic() - idle_t0)
        spy = _profiler(server.pid, args.profile, args.duration) if args.profile else None
        cpu0 = sum(server.cpu_times()[:2])
        beats, elapsed, latencies, failures = await _load(url, creds, args)
        cpu = sum(server.cpu_times()[:2]) - cpu0
        rss = server.memory_info().rss / 1e6
        if spy is not None:
            spy.wait(60)
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(f"| nodes / senders | {args.nodes} / {args.concurrency} |")
    print(f"| token mint + join, {args.join_concurrency} at a time | {args.nodes / join_s:.0f}/s, "
          f"server CPU {join_cpu / args.nodes * 1000:.1f} ms per node |")  # fmt: skip
    print(f"| beats (failed) in {elapsed:.1f} s | {beats} ({failures}) |")
    print(f"| beats/s | {beats / elapsed:.0f} |")
    net = max(0.0, cpu - idle * elapsed)
    print(f"| server CPU per beat (net of idle) | {cpu / beats * 1000:.2f} "
          f"({net / beats * 1000:.2f}) ms |")  # fmt: skip
    print(f"| server CPU under load / idle (% of one core) | {cpu / elapsed * 100:.0f} / "
          f"{idle * 100:.0f} |")  # fmt: skip
    print(f"| latency p50 / p99 | {p50:.1f} / {p99:.1f} ms |")
    print(f"| server RSS | {rss:.0f} MB |")


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--persist-every", type=int, default=0)
    parser.add_argument("--join-concurrency", type=int, default=8, help="mint + join pairs at once")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU sampling")
    parser.add_argument("--profile", default="", help="write py-spy raw stacks here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hb-load-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env |= {"EDGEORCH_BOOTSTRAP_TOKEN": TOKEN, "EDGEORCH_CONFIG": str(tmp / "client.yaml")}
    cmd = [sys.executable, "-m", "edgeorch", "server", "--data-dir", str(tmp / "data"),
           "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        asyncio.run(_main(args, url, psutil.Process(server.pid)))
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
