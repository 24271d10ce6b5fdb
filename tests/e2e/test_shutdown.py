"""Stopping a server answers the agents' parked watches instead of cancelling them."""

import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.e2e.conftest import running_server

NODES = 30


def _ready(url: str, token: str) -> int:
    headers = {"authorization": f"Bearer {token}"}
    items = httpx.get(f"{url}/api/v1/edge/nodes", params={"limit": 100}, headers=headers).json()
    items = items["items"] if isinstance(items, dict) else items
    return sum(1 for n in items if n["status"]["state"] == "ready")


def test_a_stopping_server_answers_parked_watches_at_once(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        sim = subprocess.Popen(
            [sys.executable, "-m", "edgeorch", "simulate", "--server", server.url,
             "--token", server.admin_token, "--nodes", str(NODES), "--heartbeat-interval", "1",
             "--watch-timeout", "55", "--duration", "120"],
            env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while _ready(server.url, server.admin_token) < NODES:
                assert time.monotonic() < deadline, "the simulated nodes did not join"
                time.sleep(0.5)
            time.sleep(2)  # every node's watch is parked (their sets do not change)
            assert server.process is not None
            started = time.monotonic()
            server.process.terminate()
            server.process.wait(15)
            stopped = time.monotonic() - started
        finally:
            sim.kill()
            sim.wait(10)
    log = server.log.read_text()
    assert "parked assignment watches" in log, log[-3000:]
    assert "Traceback" not in log and "graceful shutdown exceeded" not in log, log[-3000:]
    assert stopped < 4.0  # the graceful-shutdown timeout is 5 s
