"""What a server's heap holds per agent, and what its garbage collector finds.

Runs a real API server (SQLite, controllers in their own process) in this process, so its heap
can be read, and ``edgeorch simulate`` with N agents in a child process. Once every node is
ready, for ``--window`` seconds it records every collection's pause, then reports:

- the objects the server's collector tracks (frozen ones included), per agent, and the
  commonest types in its collected generations;
- how long one whole-heap collection of all of them takes;
- with ``--python-gc`` (the server as it collected before ``config.freeze_survivors``): the
  reference cycles the collector found during the window (``gc.DEBUG_SAVEALL``), by type;
- by default (the server as ``edgeorch server`` runs it): the young pauses, and the cycles a
  frozen heap kept over the window (found by unfreezing and collecting the whole heap).

Usage: PYTHONPATH=. .venv/bin/python bench/server_heap.py [--nodes 2000] [--window 60]
       [--python-gc]
"""

import argparse
import contextlib
import gc
import json
import os
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
import uvicorn

from edgeorch.api import create_app
from edgeorch.cli.serve import prepare, share_the_gil
from edgeorch.config import HTTP_IDLE_SECONDS, ServerSettings, tune_garbage_collector
from edgeorch.controllers import ControllerSettings

TOKEN = "bench-admin-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _types(objects: list[Any], top: int) -> list[tuple[str, int]]:
    counts = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in objects)
    return counts.most_common(top)


class Pauses:
    """Every collection's pause by generation (a ``gc.callbacks`` entry)."""

    def __init__(self) -> None:
        self.by_generation: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        gc.callbacks.insert(0, self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.by_generation[info["generation"]].append(time.perf_counter() - self._started)

    def summary(self) -> dict[int, dict[str, float]]:
        out = {}
        for generation, pauses in self.by_generation.items():
            pauses = sorted(pauses)
            out[generation] = {
                "count": len(pauses),
                "total_s": sum(pauses),
                "p50_ms": 1000 * pauses[len(pauses) // 2] if pauses else 0.0,
                "max_ms": 1000 * pauses[-1] if pauses else 0.0,
            }
        return out


def _ready_nodes(url: str) -> float:
    text = httpx.get(url + "/metrics", headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.text.splitlines()
        if line.startswith("edgeorch_nodes{") and 'state="ready"' in line
    )


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _measure(args: argparse.Namespace, url: str, tmp: Path, out: dict[str, Any]) -> None:
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    sim = subprocess.Popen(
        [sys.executable, "-m", "edgeorch", "simulate", "--server", url, "--token", TOKEN,
         "--nodes", str(args.nodes), "--regions", "us-west,us-east,eu-west",
         "--heartbeat-interval", "10", "--seed", "1"],
        stdout=(tmp / "simulate.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        started = time.monotonic()
        while (ready := _ready_nodes(url)) < args.nodes:
            print(f"{ready:.0f} of {args.nodes} nodes ready after "
                  f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
            time.sleep(10)
        pauses = Pauses()
        if args.python_gc:
            gc.collect()
            gc.set_debug(gc.DEBUG_SAVEALL)
        print(f"all ready; recording for {args.window:g} s", file=sys.stderr, flush=True)
        rss = [_rss_mb()]
        for _ in range(int(args.window // 10)):
            time.sleep(10)
            rss.append(_rss_mb())
        time.sleep(args.window % 10)
        out["rss_mb_every_10_s"] = rss
        out["pauses"] = pauses.summary()
        collected = gc.get_objects()  # the generations the collector walks
        out["tracked_objects"] = gc.get_freeze_count() + len(collected)
        out["tracked_per_agent"] = out["tracked_objects"] / args.nodes
        out["object_types"] = _types(collected, 25)
        del collected
        if args.python_gc:  # the cycles the collector found during the window
            gc.collect()
            out["cycles_found_in_window"] = len(gc.garbage)
        else:  # the cycles among frozen objects: what freezing kept over the window
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.unfreeze()
            gc.collect()
            out["cycles_kept_frozen_in_window"] = len(gc.garbage)
        out["cycle_types"] = _types(gc.garbage, 15)
        gc.set_debug(0)
        gc.garbage.clear()
        # One whole-heap collection of everything tracked, what was frozen at start included
        # (this runs on this thread; the server stops right after it).
        gc.unfreeze()
        collect = time.perf_counter()
        gc.collect()
        out["whole_heap_collection_s"] = time.perf_counter() - collect
    finally:
        sim.terminate()
        sim.wait(60)
        os.kill(os.getpid(), signal.SIGINT)  # stops uvicorn


def main() -> None:
    """Run the measurement and print it as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument(
        "--python-gc", action="store_true", help="collect by thresholds, freezing nothing"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="server-heap-"))
    os.environ |= {
        "EDGEORCH_BOOTSTRAP_TOKEN": TOKEN,
        "EDGEORCH_CONFIG": str(tmp / "client.yaml"),
        "EDGEORCH_NODE_SUSPECT_AFTER": "30",
        "EDGEORCH_NODE_DOWN_AFTER": "60",
    }
    port = _free_port()
    settings = ServerSettings.from_env(data_dir=tmp / "data", listen=f"127.0.0.1:{port}")
    prepared = prepare(settings)
    share_the_gil()
    app = create_app(
        prepared.database,
        prepared.settings,
        controllers=ControllerSettings.from_env(),
        freeze_garbage=not args.python_gc,
    )
    tune_garbage_collector()
    out: dict[str, Any] = {"nodes": args.nodes, "window_s": args.window}
    url = f"http://127.0.0.1:{port}"
    threading.Thread(target=_measure, args=(args, url, tmp, out), daemon=True).start()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning",
        timeout_keep_alive=int(HTTP_IDLE_SECONDS), timeout_graceful_shutdown=5,
    )  # fmt: skip
    try:
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises the SIGINT again on stop
            uvicorn.Server(config).run()
    finally:
        prepared.database.dispose()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
