"""API scale benchmark: 10,000 nodes and 10,000 workloads in one SQLite-backed server.

Measures, against a real ``edgeorch server`` process on loopback:
- the time to register 1,000 nodes, one POST each (sequential, and with 4 concurrent clients);
- the latency of ``GET /api/v1/edge/nodes?region=...`` (first page of 100) and of a label
  selector query once 10,000 nodes and 10,000 workloads are stored;
- the server's resident memory.

Usage: .venv/bin/python bench/api_scale.py [--nodes 10000] [--workloads 10000] [--queries 1000]
    [--data-dir DIR] [--only {all,register,lists}]
Prints a markdown table for docs/benchmarks.md, with the load average before and after.

``--data-dir`` keeps the server's data directory; run again with the same directory and the
filling is skipped (the store already holds the nodes and workloads), which is how to iterate on
the list rows. The registration rows always register fresh names (``reg-<run>-<i>``) so they can
be repeated against a filled store too; on a new directory they run first, on an empty store, as
before.
"""

import argparse
import contextlib
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


def _node(i: int, prefix: str = "node") -> dict[str, Any]:
    return {
        "metadata": {"name": f"{prefix}-{i:06d}", "labels": {"rack": f"r{i % 50}"}},
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


def _cpu(proc: psutil.Process) -> float:
    """The CPU seconds the server process has used so far (every thread, user + system)."""
    times = proc.cpu_times()
    return float(times.user + times.system)


def _children_cpu(proc: psutil.Process) -> float:
    """The CPU seconds the server's live child processes (the controller process) have used."""
    total = 0.0
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += _cpu(child)
    return total


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) this data directory")
    parser.add_argument("--only", choices=("all", "register", "lists"), default="all")
    parser.add_argument(
        "--settle",
        type=float,
        default=180.0,
        help="before the list rows, wait up to this many seconds for the server's controllers "
        "to catch up (server CPU under 25%% for 6 s); 0 measures at once",
    )
    parser.add_argument(
        "--no-controllers",
        action="store_true",
        help="diagnostic: run the server without its controllers (EDGEORCH_CONTROLLERS=0), to "
        "see what share of a row they cost; the targets are measured with them",
    )
    args = parser.parse_args()
    tmp = args.data_dir or Path(tempfile.mkdtemp(prefix="edgeorch-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    filled = (tmp / "filled").exists()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env["EDGEORCH_CONFIG"] = str(tmp / "client.yaml")
    if args.no_controllers:
        env["EDGEORCH_CONTROLLERS"] = "0"
    load_before = _load()
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
    seq = conc = bulk = None
    cpu_seq = cpu_conc = cpu_bulk = 0.0
    kids_seq = kids_conc = kids_bulk = 0.0
    client_seq = client_conc = 0.0
    settled = None
    lists: list[tuple[str, list[float]]] = []
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = (tmp / "data" / "admin-token").read_text().strip()
        nodes = [_node(i) for i in range(args.nodes)]
        if args.only in ("all", "register"):
            run = f"reg-{int(time.time()) % 100_000:05d}"
            fresh = [_node(i, run) for i in range(3000)]
            proc = psutil.Process(server.pid)
            cpu, kids = _cpu(proc), _children_cpu(proc)
            # This process's CPU is the clients' (httpx): with one client, a registration
            # waits for it as much as for the server.
            mine = time.process_time()
            seq = _post_all(url, token, "/api/v1/edge/nodes", fresh[:1000], 1)
            client_seq, mine = time.process_time() - mine, time.process_time()
            cpu_seq, cpu = _cpu(proc) - cpu, _cpu(proc)
            kids_seq, kids = _children_cpu(proc) - kids, _children_cpu(proc)
            conc = _post_all(url, token, "/api/v1/edge/nodes", fresh[1000:2000], 4)
            client_conc = time.process_time() - mine
            cpu_conc, cpu = _cpu(proc) - cpu, _cpu(proc)
            kids_conc, kids = _children_cpu(proc) - kids, _children_cpu(proc)
            bulk = _apply(url, token, fresh[2000:3000])
            cpu_bulk = _cpu(proc) - cpu
            kids_bulk = _children_cpu(proc) - kids
        if args.only in ("all", "lists") and not filled:
            print(f"filling to {args.nodes} nodes, {args.workloads} workloads…", file=sys.stderr)
            # The registrations above count towards the total, as they always have.
            for start in range(0 if seq is None else 3000, args.nodes, 1000):
                _apply(url, token, nodes[start : start + 1000])
            workload_docs = [_workload(i) for i in range(args.workloads)]
            _post_all(url, token, "/api/v1/workloads", workload_docs, 4)
            (tmp / "filled").write_text(f"{args.nodes} {args.workloads}\n")
        if args.only in ("all", "lists"):
            settled = _settle(psutil.Process(server.pid), args.settle)
            lists = _list_rows(url, token, args.queries)
        rss = psutil.Process(server.pid).memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(10)
    stored = (tmp / "filled").read_text().split() if (tmp / "filled").exists() else ["0", "0"]
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{time.strftime('%Y-%m-%d')}; SQLite (WAL, synchronous=FULL); load average "
        f"{load_before} before, {_load()} after; data {tmp}"
        f"{'; WITHOUT controllers' if args.no_controllers else ''}\n"
    )
    print("| measurement | result | target |")
    print("|---|---|---|")
    if seq is not None and conc is not None and bulk is not None:
        for label, took, cpu_s, kids_s, client_s in (
            ("1 client", seq, cpu_seq, kids_seq, client_seq),
            ("4 clients", conc, cpu_conc, kids_conc, client_conc),
            ("one POST /apply", bulk, cpu_bulk, kids_bulk, 0.0),
        ):
            # The controllers run in a child process (EDGEORCH_CONTROLLERS=process): their CPU
            # is not the server's, and is shown apart.
            kids_text = f"; controller process {kids_s:.2f} ms" if kids_s > 0 else ""
            client_text = f"; client {client_s:.2f} ms" if client_s > 0 else ""
            print(
                f"| 1,000 node registrations, {label} | {took:.2f} s ({1000 / took:.0f}/s; "
                f"server CPU {cpu_s:.2f} ms each{kids_text}{client_text}) | < 5 s |"
            )
    when = "at once" if settled is None else f"after {settled:.0f} s of settling"
    for name, values in lists:
        print(
            f"| {name} (page of 100, {int(stored[0]):,} nodes, {int(stored[1]):,} workloads, "
            f"{when}) | "
            f"p50 {statistics.median(values):.1f} ms, p99 {_pct(values, 0.99):.1f} ms | "
            "p99 < 50 ms |"
        )
    print(f"| server RSS after the run | {rss:.0f} MB | |")


def _settle(server: psutil.Process, limit: float) -> float | None:
    """Wait until the server is nearly idle (its controllers have caught up with the fill or
    the restart): CPU under 25% in three 2-s windows in a row (one quiet window is often a lull
    between two rebuilds). Returns the seconds waited (None: not asked)."""
    if limit <= 0:
        return None
    start = time.perf_counter()
    quiet = 0
    while time.perf_counter() - start < limit and quiet < 3:
        quiet = quiet + 1 if server.cpu_percent(interval=2.0) < 25 else 0
    return time.perf_counter() - start


def _list_rows(url: str, token: str, queries: int) -> list[tuple[str, list[float]]]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers) as client:
        _latencies(client, "/api/v1/edge/nodes", [{"region": REGIONS[0]}] * 20)  # warm up
        by_region = _latencies(
            client,
            "/api/v1/edge/nodes",
            [{"region": REGIONS[i % 20]} for i in range(queries)],
        )
        by_label = _latencies(
            client,
            "/api/v1/edge/nodes",
            [{"label_selector": f"rack=r{i % 50}"} for i in range(queries)],
        )
        combined = _latencies(
            client,
            "/api/v1/edge/nodes",
            [{"region": REGIONS[i % 20], "edge_type": "mec"} for i in range(queries)],
        )
        workloads = _latencies(
            client,
            "/api/v1/workloads",
            [{"label_selector": f"team=t{i % 30}"} for i in range(queries // 2)],
        )
    return [
        ("GET /edge/nodes?region=R", by_region),
        ("GET /edge/nodes?label_selector=rack=rN", by_label),
        ("GET /edge/nodes?region=R&edge_type=mec", combined),
        ("GET /workloads?label_selector=team=tN", workloads),
    ]


if __name__ == "__main__":
    main()
