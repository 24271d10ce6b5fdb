"""Alerts end to end: a real server and a real agent; a slow workload and a killed node.

The workload is a process that answers every request after 150 ms, served through the agent's
ingress; the agent reports the requests in its heartbeats, the server records them, and the
alert engine (evaluating every 0.5 s over a 120 s window here) raises ``ResponseTimeHigh``.
Killing the agent makes its node ``down`` (after 2 s here) and raises ``NodeDown``; starting the
agent again resolves it.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.agent.harness import Fleet, running_fleet, wait_for
from tests.e2e.conftest import free_port

SLOW_SERVER = """
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.15)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    settings = {
        "NODE_SUSPECT_AFTER": "1",
        "NODE_DOWN_AFTER": "2",
        "ALERT_INTERVAL": "0.5",
        "ALERT_WINDOW": "120",
        "ALERT_MIN_REQUESTS": "5",
        "TELEMETRY_FLUSH_SECONDS": "0.5",
    }
    with running_fleet(tmp_path, **settings) as fleet:
        yield fleet


def alerts(fleet: Fleet, **params: str) -> list[dict[str, Any]]:
    answer = fleet.api.get("/alerts", params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def firing(fleet: Fleet, rule: str) -> dict[str, Any] | None:
    return next((a for a in alerts(fleet, state="firing") if a["rule"] == rule), None)


def test_slow_workload_and_dead_node_raise_alerts(fleet: Fleet) -> None:
    agent = fleet.agent("edge-slow")
    agent.start()
    node_id = agent.node_id()
    port = free_port()
    spec = {
        "runtime": "process",
        "artifact": {"command": [sys.executable, "-c", SLOW_SERVER, str(port)], "port": port},
        "replicas": 1,
    }
    fleet.assign(node_id, "slowpoke", spec)
    # Wait on the workload's own port: requests through the ingress before it listens would be
    # (correctly) counted as errors.
    direct = f"http://127.0.0.1:{port}/"
    wait_for(lambda: httpx.get(direct, timeout=5).status_code == 200, 20, "the slow workload")
    url = f"{agent.ingress}/w/slowpoke/"
    for _ in range(8):
        assert httpx.get(url, timeout=5).status_code == 200

    slow = wait_for(lambda: firing(fleet, "ResponseTimeHigh"), 15, "ResponseTimeHigh")
    assert slow["severity"] == "warning" and slow["subject"]["name"] == "slowpoke"
    assert slow["value"] > 100 and slow["threshold"] == 100

    def recorded() -> dict[str, Any] | None:
        perf = fleet.api.get("/analytics/performance", params={"window": "5m"}).json()
        stats: dict[str, Any] = perf["workloads"][0]["stats"]
        return stats if stats["requests"] == 8 else None

    workload = {"stats": wait_for(recorded, 10, "all 8 requests recorded")}
    assert workload["stats"]["errors"] == 0
    assert workload["stats"]["p50_ms"] > 100

    agent.kill()
    down = wait_for(lambda: firing(fleet, "NodeDown"), 15, "NodeDown")
    assert down["severity"] == "critical" and down["subject"]["id"] == node_id

    agent.start()
    wait_for(lambda: firing(fleet, "NodeDown") is None, 15, "NodeDown to resolve")
    [resolved] = [a for a in alerts(fleet, state="resolved") if a["rule"] == "NodeDown"]
    assert resolved["resolved_at"] > resolved["started_at"]
    reasons = [e.reason for e in fleet.events("AlertFiring") + fleet.events("AlertResolved")]
    assert reasons.count("AlertFiring") >= 2 and "AlertResolved" in reasons

    server = fleet.server
    cli = [sys.executable, "-m", "edgeorch", "--server", server.url, "--token", server.admin_token]
    env = {**server.env, "COLUMNS": "200"}
    table = subprocess.run(
        [*cli, "alerts", "ls", "--state", "firing"], capture_output=True, text=True, env=env
    )
    assert table.returncode == 0, table.stderr
    assert "ResponseTimeHigh" in table.stdout and "workload/slowpoke" in table.stdout
    assert "NodeDown" not in table.stdout  # resolved
