"""API scale benchmark: 10,000 nodes and 10,000 workloads in one SQLite-backed server.

Measures, against a real ``edgeorch server`` process on loopback:
- the time to register 1,000 nodes, one POST each (sequential, and with 4 concurrent clients);
- the latency of ``GET /api/v1/edge/nodes?region=...`` (first page of 100) and of a label
  selector query once 10,000 nodes and 10,000 workloads are stored;
- the server's resident memory.

Usage: .venv/bin/python bench/api_scale.py [--nodes 10000] [--workloads 10000] [--queries 1000]
Prints a markdown table for docs/benchmarks.md.
"""

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

REGIONS = [f"region-{i:02d}" for i in range(20)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node(i: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"node-{i:06d}", "labels": {"rack": f"r{i % 50}"}},
        "spec": {
            "edge_type": ["mec", "cdn", "iot", "onprem", "telco", "cloud"][i % 6],
            "region": REGIONS[i % len(REGIONS)],
            "zone": f"z{i % 3}",
            "location": {"latitude": -60 + (i * 7.3) % 120, "longitude": -170 + (i * 13.7) % 340},
            "country": ["DE", "FR", "US", "AU", "JP", "BR"][i % 6],
            "capacity": {"cpu": 16, "memory_mb": 65536, "storage_gb": 500},
            "cost_per_hour": 0.1 + (i % 10) / 10,
        },
    }


def _workload(i: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"wl-{i:06d}", "labels": {"team": f"t{i % 30}"}},
        "spec": {
            "runtime": "process",
            "artifact": {"command": ["sleep", "3600"]},
            "replicas": 1 + i % 3,
            "resources": {"cpu": 0.5, "memory_mb": 256},
        },
    }


def _post_all(url: str, token: str, path: str, docs: list[dict[str, Any]], workers: int) -> float:
    def send(chunk: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            for doc in chunk:
                response = client.post(path, json=doc)
                if response.status_code != 201:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

    chunks = [docs[i::workers] for i in range(workers)]
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, chunks))
    return time.perf_counter() - start


def _apply(url: str, token: str, docs: list[dict[str, Any]]) -> float:
    """Register ``docs`` with one ``POST /api/v1/apply`` (one transaction); seconds taken."""
    kind = "Node" if "edge_type" in docs[0]["spec"] else "Workload"
    body = [{"apiVersion": "edgeorch.io/v1", "kind": kind, **d} for d in docs]
    start = time.perf_counter()
    response = httpx.post(
        f"{url}/api/v1/apply", json=body, timeout=120, headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code != 200:
        raise RuntimeError(f"apply: {response.status_code} {response.text[:300]}")
    return time.perf_counter() - start


def _latencies(client: httpx.Client, path: str, params: list[dict[str, Any]]) -> list[float]:
    out = []
    for p in params:
        start = time.perf_counter()
        response = client.get(path, params=p)
        out.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(response.text)
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="edgeorch-bench-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env["EDGEORCH_CONFIG"] = str(tmp / "client.yaml")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeorch",
            "server",
            "--data-dir",
            str(tmp / "data"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = (tmp / "data" / "admin-token").read_text().strip()
        nodes = [_node(i) for i in range(args.nodes)]
        seq = _post_all(url, token, "/api/v1/edge/nodes", nodes[:1000], 1)
        conc = _post_all(url, token, "/api/v1/edge/nodes", nodes[1000:2000], 4)
        bulk = _apply(url, token, nodes[2000:3000])
        print(f"registered 3,000 nodes; filling to {args.nodes}…", file=sys.stderr)
        for start in range(3000, args.nodes, 1000):
            _apply(url, token, nodes[start : start + 1000])
        _post_all(url, token, "/api/v1/workloads", [_workload(i) for i in range(args.workloads)], 4)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers) as client:
            _latencies(client, "/api/v1/edge/nodes", [{"region": REGIONS[0]}] * 20)  # warm up
            by_region = _latencies(
                client,
                "/api/v1/edge/nodes",
                [{"region": REGIONS[i % 20]} for i in range(args.queries)],
            )
            by_label = _latencies(
                client,
                "/api/v1/edge/nodes",
                [{"label_selector": f"rack=r{i % 50}"} for i in range(args.queries)],
            )
            combined = _latencies(
                client,
                "/api/v1/edge/nodes",
                [{"region": REGIONS[i % 20], "edge_type": "mec"} for i in range(args.queries)],
            )
            workloads = _latencies(
                client,
                "/api/v1/workloads",
                [{"label_selector": f"team=t{i % 30}"} for i in range(args.queries // 2)],
            )
        rss = psutil.Process(server.pid).memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{time.strftime('%Y-%m-%d')}; SQLite (WAL, synchronous=FULL)\n"
    )
    print("| measurement | result | target |")
    print("|---|---|---|")
    print(f"| 1,000 node registrations, 1 client | {seq:.2f} s ({1000 / seq:.0f}/s) | < 5 s |")
    print(f"| 1,000 node registrations, 4 clients | {conc:.2f} s ({1000 / conc:.0f}/s) | < 5 s |")
    rate = f"{bulk:.2f} s ({1000 / bulk:.0f}/s)"
    print(f"| 1,000 node registrations, one POST /apply | {rate} | < 5 s |")
    rows = [
        ("GET /edge/nodes?region=R", by_region),
        ("GET /edge/nodes?label_selector=rack=rN", by_label),
        ("GET /edge/nodes?region=R&edge_type=mec", combined),
        ("GET /workloads?label_selector=team=tN", workloads),
    ]
    for name, values in rows:
        print(
            f"| {name} (page of 100, {args.nodes:,} nodes, {args.workloads:,} workloads) | "
            f"p50 {statistics.median(values):.1f} ms, p99 {_pct(values, 0.99):.1f} ms | "
            "p99 < 50 ms |"
        )
    print(f"| server RSS after the run | {rss:.0f} MB | |")


if __name__ == "__main__":
    main()
