"""The controllers in a process of their own: a real ``edgeorch server`` and its child."""

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.metrics_core import Metric
from tests.agent.harness import wait_for
from tests.e2e.conftest import ServerProcess, running_server

from edgeorch.controllers import ControllerSettings
from edgeorch.controllers.process import (
    ControllerProcess,
    decode_settings,
    encode_settings,
    shareable,
)
from edgeorch.controllers.settings import controllers_enabled
from edgeorch.observability.collector import _merged
from edgeorch.store import Database, default_sqlite_url


def _child(server: ServerProcess) -> psutil.Process | None:
    assert server.process is not None
    for proc in psutil.Process(server.process.pid).children():
        try:
            if "edgeorch.controllers" in proc.cmdline():
                return proc
        except psutil.NoSuchProcess:
            continue
    return None


def _node(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "edge_type": "mec", "region": "eu", "country": "DE",
            "location": {"latitude": 50.1, "longitude": 8.7},
            "capacity": {"cpu": 4, "memory_mb": 4096},
        },
    }  # fmt: skip


def _workload(name: str) -> dict[str, Any]:
    spec = {"runtime": "process", "artifact": {"command": ["true"]}, "replicas": 1}
    return {"metadata": {"name": name}, "spec": spec}


def test_the_controllers_run_in_a_supervised_child_process(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        _check_the_child(server)


def _check_the_child(server: ServerProcess) -> None:
    try:
        api = httpx.Client(
            base_url=server.url,
            headers={"authorization": f"Bearer {server.admin_token}"},
            timeout=10,
        )

        def failed(workload: str) -> bool:
            events = api.get("/api/v1/events", params={"limit": 500}).json()["items"]
            return any(
                e["reason"] == "PlacementFailed" and workload in e["message"] for e in events
            )

        child = wait_for(lambda: _child(server), 20, "the controller process")
        assert api.post("/api/v1/edge/nodes", json=_node("site-1")).status_code == 201
        assert api.post("/api/v1/workloads", json=_workload("web")).status_code == 201
        # Only a controller writes PlacementFailed (the node is pending: nothing fits), and the
        # only controllers that place run in the child.
        wait_for(lambda: failed("web"), 20, "the child's PlacementFailed event")
        metrics = api.get("/metrics").text
        assert 'edgeorch_placement_decisions_total{mode="place",result="unplaceable"}' in metrics
        assert metrics.count("# TYPE edgeorch_placement_decisions_total counter") == 1

        child.kill()  # a crash of the controllers: the server starts a new child
        child.wait(10)
        restarted = wait_for(
            lambda: (c := _child(server)) is not None and c.pid != child.pid and c,
            20,
            "a restarted controller process",
        )
        assert api.post("/api/v1/workloads", json=_workload("api")).status_code == 201
        wait_for(lambda: failed("api"), 20, "the restarted child's PlacementFailed event")
        assert "restarting it" in server.log.read_text()

        metrics_dir = Path(restarted.environ()["PROMETHEUS_MULTIPROC_DIR"])
        assert metrics_dir.is_dir()
        server.stop()  # SIGTERM: the server stops its child and removes the metrics files
        assert "Application shutdown complete" in server.log.read_text()
        wait_for(
            lambda: not restarted.is_running() or restarted.status() == "zombie", 20, "child exit"
        )
        assert not metrics_dir.exists()

        server.start()  # the same store: a kill -9 of the server takes the child with it
        orphan = wait_for(lambda: _child(server), 20, "the controller process")
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        orphan.wait(30)
    finally:
        server.kill()


def test_settings_cross_to_the_child_intact() -> None:
    settings = ControllerSettings(suspect_after=3, down_after=9, resync=7, own_process=True)
    assert decode_settings(encode_settings(settings)) == settings
    with pytest.raises(ValueError, match="unknown controller settings \\['tick'\\]"):
        decode_settings('{"tick": 1}')


def test_the_mode_is_named_and_a_wrong_one_is_refused() -> None:
    assert ControllerSettings.from_env({}).own_process
    assert not ControllerSettings.from_env({"EDGEORCH_CONTROLLERS": "thread"}).own_process
    assert not controllers_enabled({"EDGEORCH_CONTROLLERS": "off"})
    with pytest.raises(ValueError, match=r"'proces'.*accepted: process"):
        controllers_enabled({"EDGEORCH_CONTROLLERS": "proces"})


def test_an_in_memory_store_cannot_be_shared(tmp_path: Path) -> None:
    assert not shareable(Database("sqlite://"))
    assert shareable(Database(f"sqlite:///{tmp_path / 'db.sqlite'}"))


def test_the_childs_samples_add_to_the_servers() -> None:
    ours = Metric("edgeorch_x", "x", "counter")
    ours.add_sample("edgeorch_x_total", {"mode": "dry_run"}, 2.0)
    ours.add_sample("edgeorch_x_total", {"mode": "place"}, 1.0)
    theirs = Metric("edgeorch_x", "x", "counter")
    theirs.add_sample("edgeorch_x_total", {"mode": "place"}, 5.0)
    theirs.add_sample("edgeorch_x_total", {"mode": "other"}, 4.0)
    merged = {tuple(s.labels.values()): s.value for s in _merged(ours, theirs).samples}
    assert merged == {("dry_run",): 2.0, ("place",): 6.0, ("other",): 4.0}


def test_a_child_that_stopped_cleanly_is_not_restarted_while_the_server_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C signals the child with the server; the server stops the supervisor only after
    its connections, so a child's clean exit waits out a grace before it is restarted."""
    database = Database(default_sqlite_url(tmp_path))
    supervisor = ControllerProcess(database, ControllerSettings())
    supervisor.clean_exit_grace = 2.0  # longer than the 1 s backoff after a crash
    spawned: list[int] = []

    def spawn() -> None:  # a child that exits 0 at once, as one told to stop does
        supervisor._child = subprocess.Popen([sys.executable, "-c", "pass"])
        spawned.append(supervisor._child.pid)

    monkeypatch.setattr(supervisor, "_spawn", spawn)
    try:
        supervisor.start()
        time.sleep(1.5)  # the first child has exited 0: within the grace, no new one
        assert len(spawned) == 1
        wait_for(lambda: len(spawned) == 2, 5, "the restart after the grace")
        supervisor.stop()  # during the second grace: no third child
        assert len(spawned) == 2
    finally:
        supervisor.stop()
        database.dispose()
