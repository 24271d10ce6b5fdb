"""Dashboard at 10,000 nodes: load time, redraw time, and 1,000 node updates applied live.

A real ``edgeorch server`` (SQLite, loopback, controllers on with long node timeouts) gets N
nodes at real cities of every simulated region through ``POST /apply`` and some workloads with
user populations, which the controllers place. Node statuses are then written straight to the
store, in batches of 1,000 per transaction, the way the agents' heartbeats would write them:
10,000 heartbeating agents do not fit on this 2-core machine next to the server (see the
simulator numbers in docs/benchmarks.md), and what is measured here is the dashboard's side.

Headless Debian Chromium (1366x768) opens the dashboard and reports:
- load: navigation to the map drawn with every node (median of 3 loads);
- the /api/v1/dashboard/fleet response: bytes on the wire and server time;
- one full redraw of the node layer with the whole world in view (median of 10), the mean
  frame interval while panning (60 frames) and the redraw once the view is still, at the world
  view and zoomed in 4x;
- live: commit of 1,000 node updates in one transaction -> the browser has applied the stream
  message -> the map is repainted (wall clock on both sides, same machine), and the JavaScript
  time to apply the message; median over rounds.

Usage: .venv/bin/python bench/dashboard_scale.py [--nodes 10000] [--workloads 40] [--rounds 7]
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from edgeorch.schemas.node import NodeStatus, Utilization
from edgeorch.sim.fleet import REGIONS, generate_fleet
from edgeorch.store import Database, default_sqlite_url, update_node_status
from edgeorch.store.sql.changes import REVISION_KEY

TOKEN = "bench-admin-token-0123456789abcdef"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


PAN_LOOP = """async () => {
  const map = window.edgeorchDashboard.map;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame();
  let started = performance.now();
  for (let i = 0; i < 60; i++) {
    map.panBy(i < 30 ? 4 : -4, 0);  // what a drag does on every pointer move
    await frame();
  }
  const pan = (performance.now() - started) / 60;
  await new Promise((resolve) => setTimeout(resolve, 300));  // let the settle redraw pass
  await frame();
  started = performance.now();
  map.redrawAll();  // the redraw once the view is still: land, borders, every node in view
  await frame();
  await frame();
  return { pan, settle: performance.now() - started };
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env |= {"EDGEORCH_BOOTSTRAP_TOKEN": TOKEN, "EDGEORCH_CONFIG": str(tmp / "client.yaml")}
    cmd = [
        sys.executable, "-m", "edgeorch", "server", "--data-dir", str(tmp / "data"),
        "--listen", f"127.0.0.1:{port}",
        # Statuses are written by this script, not by heartbeating agents: never time out.
        "--node-suspect-after", "86400", "--node-down-after", "86400",
    ]  # fmt: skip
    log = (tmp / "server.log").open("ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not start: {(tmp / 'server.log').read_text()[-2000:]}")


def _api(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{url}/api/v1", headers={"authorization": f"Bearer {TOKEN}"}, timeout=120
    )


def _populate(url: str, nodes: int) -> list[str]:
    fleet = generate_fleet(nodes, list(REGIONS), seed=11)
    with _api(url) as api:
        for start in range(0, len(fleet), 1000):
            docs = [
                {
                    "kind": "Node",
                    "metadata": {"name": n.name},
                    "spec": n.node.spec.model_dump(mode="json"),
                }
                for n in fleet[start : start + 1000]
            ]
            answer = api.post("/apply", json=docs)
            answer.raise_for_status()
        ids: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000} | ({"continue": cursor} if cursor else {})
            page = api.get("/edge/nodes", params=params).json()
            ids += [n["metadata"]["id"] for n in page["items"]]
            cursor = page["metadata"]["continue"]
            if not cursor:
                break
    return ids


def _apply_workloads(url: str, workloads: int, rng: random.Random) -> None:
    docs = []
    for i in range(workloads):
        users = [
            {
                "latitude": round(rng.uniform(-40, 60), 2),
                "longitude": round(rng.uniform(-120, 150), 2),
                "weight": rng.randint(1, 5),
            }
            for _ in range(rng.randint(1, 4))
        ]
        docs.append(
            {
                "kind": "Workload",
                "metadata": {"name": f"app-{i:03d}"},
                "spec": {
                    "runtime": "process",
                    "artifact": {"command": ["serve"]},
                    "replicas": rng.randint(1, 20),
                    "resources": {"cpu": 0.5, "memory_mb": 256},
                    "placement": {"users": users},
                },
            }
        )
    with _api(url) as api:
        api.post("/apply", json=docs).raise_for_status()


def _wait_placed(url: str, workloads: int, timeout: float = 120) -> None:
    """Wait until the controllers have placed every replica they can."""
    deadline = time.monotonic() + timeout
    with _api(url) as api:
        while time.monotonic() < deadline:
            items = api.get("/workloads", params={"limit": 1000}).json()["items"]
            placed = sum(
                1
                for w in items
                if w["status"]["placed_replicas"] >= w["status"]["desired_replicas"]
            )
            if placed == workloads:
                return
            time.sleep(1)
    raise TimeoutError(f"only {placed} of {workloads} workloads placed after {timeout} s")


def _write_statuses(db: Database, ids: list[str], rng: random.Random, down: float) -> int:
    """One transaction: every node in ``ids`` gets a fresh status; returns its revision."""
    with db.write() as session:
        for node_id in ids:
            state = "down" if rng.random() < down else "ready"
            util = Utilization(cpu=rng.random() ** 2, memory=rng.random() ** 1.5)
            update_node_status(
                session=session,
                node_id=node_id,
                status=NodeStatus(state=state, utilization=util),
            )
        revision = int(session.info[REVISION_KEY])
    return revision


def _poll(page: Page, expression: str, timeout: float = 120) -> Any:
    """Evaluate ``expression`` until it is truthy (the page's CSP forbids the string predicates
    of ``wait_for_function``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"{expression} stayed false for {timeout} s")


def _wait_revision(page: Page, revision: int) -> dict[str, Any]:
    _poll(page, f"window.edgeorchDashboard.fleet.revision >= {revision}")
    page.wait_for_timeout(50)  # let the animation frame that repaints the map run
    stats: dict[str, Any] = page.evaluate(
        "({...window.edgeorchDashboard.stats, map: window.edgeorchDashboard.mapStats()})"
    )
    return stats


def _load(page: Page, url: str, nodes: int) -> float:
    page.goto("about:blank")  # a fresh document every time, not a same-page fragment change
    started = time.perf_counter()
    page.goto(f"{url}/#token={TOKEN}")
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    _poll(page, f"document.querySelector('#map').dataset.nodesTotal == {nodes}")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--workloads", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(3)
    out: dict[str, Any] = {"nodes": args.nodes}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, url = _start_server(tmp)
        db = Database(default_sqlite_url(tmp / "data"))
        try:
            t0 = time.perf_counter()
            ids = _populate(url, args.nodes)
            _write_statuses(db, ids, rng, down=0.01)
            _apply_workloads(url, args.workloads, rng)
            _wait_placed(url, args.workloads)
            out["setup_s"] = round(time.perf_counter() - t0, 1)
            with _api(url) as api:
                sizes = []
                for _ in range(5):
                    began = time.perf_counter()
                    answer = api.get("/dashboard/fleet", headers={"accept-encoding": "gzip"})
                    sizes.append(
                        ((time.perf_counter() - began) * 1000, answer.num_bytes_downloaded)
                    )
                body = answer.json()
            out["fleet_response_ms_median"] = round(statistics.median(s[0] for s in sizes), 1)
            out["fleet_response_gzip_bytes"] = sizes[-1][1]
            out["fleet_response_raw_bytes"] = len(json.dumps(body, separators=(",", ":")))
            out["instances"] = len(body["instances"]["id"])
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                loads = [_load(page, url, args.nodes) for _ in range(3)]
                out["load_ms_median"] = round(statistics.median(loads), 0)
                out["load_ms_all"] = [round(x) for x in loads]
                stats = page.evaluate("window.edgeorchDashboard.stats")
                out["snapshot_fetch_parse_ms_last"] = round(stats["snapshotMs"], 1)
                # A full redraw of the node layer with the whole world in view: switching the
                # colour mode repaints every node.
                draws = []
                for step in range(10):
                    page.click("[data-mode=util]" if step % 2 == 0 else "[data-mode=status]")
                    draws.append(page.evaluate("window.edgeorchDashboard.mapStats().lastDrawMs"))
                out["redraw_all_ms_median"] = round(statistics.median(draws), 1)
                out["redraw_all_ms_max"] = round(max(draws), 1)
                out["first_draw_ms_last"] = round(stats["firstDrawMs"], 0)
                # Panning: the mean frame interval over 60 animation frames of a drag, and the
                # redraw once the view is still (two frames, so Chromium's rasterisation is in
                # it, which the JavaScript timings above leave out).
                for k, label in ((1, "world"), (4, "zoomed_4x")):
                    page.click("#zoom-reset")
                    for _ in range(k.bit_length() - 1):
                        page.click("#zoom-in")
                    page.wait_for_timeout(300)
                    timing = page.evaluate(PAN_LOOP)
                    out[f"pan_frame_ms_{label}"] = round(timing["pan"], 1)
                    out[f"settle_redraw_ms_{label}"] = round(timing["settle"], 1)
                page.click("#zoom-reset")
                page.wait_for_timeout(2000)
                latencies, paints, applies = [], [], []
                for _ in range(args.rounds):
                    batch = rng.sample(ids, 1000)
                    revision = _write_statuses(db, batch, rng, down=0.05)
                    committed_at = time.time() * 1000  # the write is durable from here on
                    stats = _wait_revision(page, revision)
                    latencies.append(stats["lastAppliedAt"] - committed_at)
                    paints.append(stats["map"]["lastPaintAt"] - committed_at)
                    applies.append(stats["lastApplyMs"])
                    page.wait_for_timeout(500)
                out["update_1000_applied_ms_median"] = round(statistics.median(latencies), 0)
                out["update_1000_painted_ms_median"] = round(statistics.median(paints), 0)
                out["update_1000_js_apply_ms_median"] = round(statistics.median(applies), 1)
                out["update_1000_painted_ms_all"] = [round(x) for x in paints]
                page.screenshot(path=str(Path(os.environ.get("SHOT", "/tmp")) / "dash-10k.png"))
                browser.close()
        finally:
            db.dispose()
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
