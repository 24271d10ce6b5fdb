"""How long a ``/metrics`` scrape takes at fleet scale, and what the request middleware costs.

    PYTHONPATH=. .venv/bin/python bench/metrics_scrape.py [--nodes 10000] [--requests 3000]

1. A SQLite store with N ready nodes (4 regions), N instances and one heartbeat recorded per node
   (so every node has 4 utilization series); times the server's whole exposition
   (``ServerMetrics.render``: the queries, the collectors and the text), median of
   10 scrapes after a warm-up, and its size.
2. ``GET /healthz`` through the ASGI app in-process, with and without the ``RequestMetrics``
   middleware, median per-request time over ``--requests`` calls each (alternating blocks to
   share the machine's noise), and the middleware's own work alone in a tight loop.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from edgeorch.api import create_app
from edgeorch.config import ServerSettings
from edgeorch.domain.enums import InstanceState, NodeState
from edgeorch.observability.metrics import HTTP_REQUEST_DURATION
from edgeorch.observability.server import RequestMetrics, route_template
from edgeorch.schemas.instance import InstanceSpec, InstanceStatus
from edgeorch.schemas.node import Node, NodeCreate, Utilization
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Database,
    create_instance,
    create_node,
    create_workload,
    default_sqlite_url,
    list_nodes,
)

REGIONS = ("us-west", "us-east", "eu-west", "ap-south")


def build(database: Database, nodes: int) -> list[Node]:
    specs = []
    with database.write() as session:
        workload = create_workload(
            session=session,
            workload=WorkloadCreate.model_validate(
                {
                    "metadata": {"name": "web"},
                    "spec": {
                        "runtime": "process",
                        "artifact": {"command": ["true"]},
                        "replicas": nodes,
                    },
                }
            ),
        )
        for i in range(nodes):
            body = NodeCreate.model_validate(
                {
                    "metadata": {"name": f"n{i:05d}"},
                    "spec": {
                        "edge_type": "mec",
                        "region": REGIONS[i % len(REGIONS)],
                        "location": {"latitude": 40.0 + i % 10, "longitude": -100.0 + i % 50},
                        "country": "US",
                        "capacity": {"cpu": 16, "memory_mb": 65536},
                    },
                }
            )
            node = create_node(session=session, node=body, state=NodeState.READY)
            specs.append(node)
            create_instance(
                session=session,
                spec=InstanceSpec(
                    workload_id=workload.metadata.id, node_id=node.metadata.id, replica=i
                ),
                status=InstanceStatus(state=InstanceState.RUNNING),
            )
    return specs


def scrape_time(nodes: int, keep: Path | None) -> None:
    tmp = keep or Path(tempfile.mkdtemp())
    tmp.mkdir(parents=True, exist_ok=True)
    database = Database(default_sqlite_url(tmp))
    database.migrate()
    created: list[Node] = []
    with database.session() as session:
        cursor: str | None = None
        while True:
            page = list_nodes(session=session, tenant=None, limit=1000, continue_token=cursor)
            created.extend(page.items)
            cursor = page.continue_token
            if cursor is None:
                break
    if len(created) < nodes:
        started = time.perf_counter()
        created = build(database, nodes)
        print(f"built {nodes} nodes + instances in {time.perf_counter() - started:.1f} s")
    app = create_app(database, ServerSettings(data_dir=tmp / "data"))
    now = datetime.now(UTC)
    for i, node in enumerate(created):
        app.state.heartbeat_book.record(node, Utilization(cpu=(i % 100) / 100, memory=0.5), now)
    metrics = app.state.server_metrics
    body, _ = metrics.render()  # warm-up (the first fleet view builds the snapshot)
    times = []
    for _ in range(10):
        t = time.perf_counter()
        body, _ = metrics.render()
        times.append(time.perf_counter() - t)
    lines = body.count(b"\n")
    print(
        f"scrape at {nodes} nodes: median {statistics.median(times) * 1000:.0f} ms, "
        f"min {min(times) * 1000:.0f} ms, {len(body) / 1e6:.2f} MB, {lines} lines"
    )
    database.dispose()


def without_middleware(app: FastAPI) -> FastAPI:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestMetrics]
    return app


async def per_request(app: FastAPI, n: int) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            await client.get("/healthz")
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def middleware_cost(requests: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    database = Database(default_sqlite_url(tmp))
    database.migrate()
    settings = ServerSettings(data_dir=tmp / "data")
    plain, metered = (
        without_middleware(create_app(database, settings)),
        create_app(database, settings),
    )
    runs: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(5):
        runs["without"].append(asyncio.run(per_request(plain, requests // 5)))
        runs["with"].append(asyncio.run(per_request(metered, requests // 5)))
    a, b = statistics.median(runs["without"]), statistics.median(runs["with"])
    delta = (b - a) * 1e6
    print(
        f"GET /healthz in-process: without {a * 1e6:.0f} us, with {b * 1e6:.0f} us, {delta:+.1f} us"
    )
    route = next(r for r in metered.router.routes if getattr(r, "path", "") == "/api/docs")
    scope = {"route": route, "path": "/api/docs", "path_params": {}}
    loops = 100_000
    t = time.perf_counter()
    for _ in range(loops):
        HTTP_REQUEST_DURATION.labels("GET", route_template(scope), "200").observe(0.001)
    alone = (time.perf_counter() - t) / loops * 1e6
    print(f"middleware work alone (template + labels + observe): {alone:.2f} us")
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--keep", type=Path, help="build the store here once and reuse it")
    parser.add_argument("--no-middleware", action="store_true", help="only time the scrape")
    args = parser.parse_args()
    if not args.no_middleware:
        middleware_cost(args.requests)
    scrape_time(args.nodes, args.keep)


if __name__ == "__main__":
    main()
