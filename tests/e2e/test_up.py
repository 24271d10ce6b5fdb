"""``edgeorch up`` end to end: server, simulated fleet, real agent, samples; stop; resume."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.slow
SIM_NODES = 6
SAMPLES = {
    "real-time-analytics",
    "content-delivery",
    "local-real-time-analytics",
    "local-content-delivery",
}


def _start(data_dir: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "edgeorch", "up", "--data-dir", str(data_dir),
        "--listen", f"127.0.0.1:{port}", "--nodes", str(SIM_NODES),
    ]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=out)


def _nodes(url: str, token: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{url}/api/v1/edge/nodes",
        params={"limit": 1000},
        headers={"authorization": f"Bearer {token}"},
        timeout=5,
    )
    answer.raise_for_status()
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _wait_banner(log: Path, times: int) -> None:
    deadline = time.monotonic() + 60
    while log.read_text().count("edgeorch is up") < times:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def _fresh(node: dict[str, Any], since: datetime | None) -> bool:
    if node["status"]["state"] != "ready":
        return False
    seen = node["status"]["last_heartbeat"]
    return since is None or (seen is not None and datetime.fromisoformat(seen) >= since)


def _wait_all_ready(
    proc: subprocess.Popen[bytes],
    url: str,
    data_dir: Path,
    log: Path,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"up exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            token = (data_dir / "admin-token").read_text().strip()
            nodes = _nodes(url, token)
            last = [(n["metadata"]["name"], n["status"]["state"]) for n in nodes]
            if len(nodes) >= SIM_NODES + 1 and all(_fresh(n, since) for n in nodes):
                return nodes
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"nodes not ready: {last}; log: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "up should run the real agent as a child process"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0, log.read_text()[-3000:]
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
    assert "stopped cleanly" in log.read_text()


def test_up_runs_everything_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env["EDGEORCH_CONFIG"] = str(tmp_path / "client.yaml")
    data_dir, port, log = tmp_path / "up", free_port(), tmp_path / "up.log"
    url = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port, env, log)
    try:
        nodes = _wait_all_ready(proc, url, data_dir, log)
        names = sorted(n["metadata"]["name"] for n in nodes)
        assert len(names) == SIM_NODES + 1
        local = [n for n in nodes if n["metadata"]["name"] == "local-agent"]
        assert local and local[0]["status"]["state"] == "ready"
        assert "wasm_runtime" in local[0]["spec"]["capabilities"]
        simulated = [n for n in nodes if n["metadata"]["labels"].get("edgeorch.io/simulated")]
        assert len(simulated) == SIM_NODES
        assert {n["spec"]["region"] for n in simulated} == {"us-west", "us-east", "eu-west"}
        token = (data_dir / "admin-token").read_text().strip()
        workloads = httpx.get(
            f"{url}/api/v1/workloads", headers={"authorization": f"Bearer {token}"}, timeout=5
        ).json()["items"]
        assert {w["metadata"]["name"] for w in workloads} >= SAMPLES
        _wait_banner(log, 1)
        text = log.read_text()
        assert f"{url}/api/docs" in text and f"{url}/" in text and token in text
        _stop(proc, log)

        restarted = datetime.now(UTC)
        proc = _start(data_dir, port, env, log)
        _wait_banner(log, 2)
        again = _wait_all_ready(proc, url, data_dir, log, since=restarted)
        assert sorted(n["metadata"]["name"] for n in again) == names
        assert {n["metadata"]["id"] for n in again} == {n["metadata"]["id"] for n in nodes}
        assert "local-real-time-analytics unchanged" in log.read_text()
        _stop(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
