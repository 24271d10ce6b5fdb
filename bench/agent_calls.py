"""CPU per agent call, in process: the assignment watch answer, a heartbeat, ``/healthz``.

Builds the API over a fresh SQLite store (no controllers, no network: httpx's ASGI transport),
joins one node, then times ``--calls`` sequential calls of each kind with ``time.process_time``
(CPU of this process, so another load on the machine changes it less than wall time):

- ``watch``: ``GET /agent/nodes/{id}/assignments?digest=<current>&timeout=0``, what a long-poll
  costs apart from its wait (its start and its time-out answer); ``watch-wait`` the same with a
  1 ms timeout, so it also registers with the watch hub and times out (CPU only, the wait is
  not counted);
- ``heartbeat``: ``POST /agent/nodes/{id}/heartbeat`` with utilization that does not move;
- ``healthz``: the cheapest route, for scale.

The client's own work is included in every figure, so compare rows and runs, not absolutes.

Usage: .venv/bin/python bench/agent_calls.py [--calls 2000] [--rounds 3]
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from edgeorch.api import create_app
from edgeorch.api.bootstrap import prepare_store
from edgeorch.config import ServerSettings
from edgeorch.store import Database, default_sqlite_url

JOIN = {
    "name": "bench-node",
    "facts": {"edge_type": "mec", "region": "r1", "latitude": 48.0, "longitude": 2.0,
              "country": "FR"},
    "measured": {"arch": "x86_64", "capacity": {"cpu": 16, "memory_mb": 32768}},
}  # fmt: skip
BEAT = {"utilization": {"cpu": 0.2, "memory": 0.3}, "ingress": "http://127.0.0.1:1"}


async def _run(args: argparse.Namespace) -> dict[str, list[float]]:
    tmp = Path(tempfile.mkdtemp(prefix="agent-calls-"))
    os.environ["EDGEORCH_CONFIG"] = str(tmp / "client.yaml")
    database = Database(default_sqlite_url(tmp))
    database.migrate()
    settings = ServerSettings(data_dir=tmp / "data")
    admin = prepare_store(database, settings).admin_secret
    app = create_app(database, settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        minted = await client.post(
            "/api/v1/tokens", json={"role": "join"}, headers={"authorization": f"Bearer {admin}"}
        )
        joined = await client.post(
            "/api/v1/agent/join",
            json=JOIN,
            headers={"authorization": f"Bearer {minted.json()['secret']}"},
        )
        node = joined.json()
        headers = {"authorization": f"Bearer {node['credential']}"}
        base = f"/api/v1/agent/nodes/{node['node_id']}"
        first = await client.get(f"{base}/assignments", headers=headers)
        params = {"digest": first.json()["digest"], "timeout": 0}
        waits = {**params, "timeout": 0.001}  # through the hub: registers, times out
        await client.post(f"{base}/heartbeat", json=BEAT, headers=headers)  # the first beat

        calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
            "watch": lambda: client.get(f"{base}/assignments", params=params, headers=headers),
            "watch-wait": lambda: client.get(f"{base}/assignments", params=waits, headers=headers),
            "heartbeat": lambda: client.post(f"{base}/heartbeat", json=BEAT, headers=headers),
            "healthz": lambda: client.get("/healthz"),
        }
        out: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(args.rounds):
            for name, call in calls.items():
                started = time.process_time()
                for _ in range(args.calls):
                    answer = await call()
                    answer.raise_for_status()
                out[name].append((time.process_time() - started) / args.calls)
    beats = getattr(app.state, "heartbeats", None)
    if beats is not None:
        beats.close()
    hub = getattr(app.state, "agent_hub", None)
    if hub is not None:
        hub.close()
    return out


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out = asyncio.run(_run(args))
    print(f"| call ({args.calls} per round, {args.rounds} rounds) | CPU per call, median (min) |")
    print("|---|---:|")
    for name, values in out.items():
        print(f"| {name} | {statistics.median(values) * 1e6:.0f} µs ({min(values) * 1e6:.0f}) |")


if __name__ == "__main__":
    main()
