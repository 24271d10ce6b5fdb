"""Migrations with a real server and two real agent processes, a client calling throughout.

The workload is the request counter of docs/wasm-abi.md: every answer is the previous one plus
one, so an answer sequence without a gap or a restart proves the state was carried over.
"""

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import wasmtime
from tests.agent.drivers.wasm_modules import COUNTER_WAT
from tests.agent.harness import AgentProcess, Fleet, running_fleet, start_all, wait_for


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, Any, Any]]:
    """One server and two agents for the module (starting them is most of the time); the
    test that kills an agent runs last."""
    with running_fleet(tmp_path_factory.mktemp("migrations"), MIGRATION_TIMEOUT="4") as fleet:
        a, b = two_agents(fleet)
        yield fleet, a, b


class Client(threading.Thread):
    """Calls a URL as fast as it answers; records every answer and every failure."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.values: list[int] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    answer = client.get(self.url)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if answer.status_code == 200:
                    self.values.append(int(answer.text))
                else:
                    self.failures.append(f"{answer.status_code} {answer.text.strip()}")

    def finish(self) -> None:
        self.stop.set()
        self.join(15)


def two_agents(fleet: Fleet) -> tuple[AgentProcess, AgentProcess]:
    a, b = fleet.agent("edge-a"), fleet.agent("edge-b")
    start_all(a, b)
    for agent in (a, b):
        node = agent.node_id()
        wait_for(
            lambda n=node: fleet.api.get(f"/edge/nodes/{n}").json()["status"]["state"] == "ready",
            what=f"{agent.name} ready",
        )
    return a, b


def counter_on(fleet: Fleet, agent: AgentProcess, name: str) -> str:
    digest = fleet.upload(wasmtime.wat2wasm(COUNTER_WAT))
    spec = {"runtime": "wasm", "artifact": {"digest": digest}, "replicas": 1}
    instance_id = fleet.assign(agent.node_id(), name, spec)
    wait_for(lambda: fleet.instance(instance_id).status.state == "running", 20, "counter running")
    # The target reports the source's ingress address from its heartbeat.
    wait_for(
        lambda: (
            fleet.api.get(f"/edge/nodes/{agent.node_id()}").json()["status"]["agent"].get("ingress")
        ),
        what="the source's ingress address",
    )
    return instance_id


def migrate(fleet: Fleet, instance_id: str, target: str, **extra: Any) -> dict[str, Any]:
    body = {"instance": instance_id, "target_node": target, **extra}
    answer = fleet.api.post("/migrations", json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    assert created["status"]["state"] == "pending"
    return created


def finished(fleet: Fleet, migration_id: str, timeout: float = 20.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = fleet.api.get(f"/migrations/{migration_id}").json()
        return body if body["status"]["state"] not in ("pending", "running") else None

    result: dict[str, Any] = wait_for(done, timeout, "the migration to end")
    return result


def test_live_migration_keeps_state_and_loses_no_request(world: tuple[Fleet, Any, Any]) -> None:
    fleet, a, b = world
    instance_id = counter_on(fleet, a, "counter")
    client = Client(f"{a.ingress}/w/counter/")
    client.start()
    wait_for(lambda: len(client.values) > 20, what="the client to get answers")
    created = migrate(fleet, instance_id, b.node_id(), type="live", max_downtime="50ms")
    result = finished(fleet, created["metadata"]["id"])
    time.sleep(0.3)  # answers through the forward, after the switch
    client.finish()
    status = result["status"]
    assert status["state"] == "succeeded", (status["error"], status["message"])
    assert status["progress"] == 100 and status["phase"] == "cleanup"
    assert client.failures == []
    # The state went along: one counter, no restart, no gap, no repeat.
    assert client.values == list(range(client.values[0], client.values[0] + len(client.values)))
    assert status["downtime_ms"] is not None and 0 < status["downtime_ms"] < 1000
    assert status["precopy_rounds"] >= 1 and status["bytes_transferred"] > 0
    assert set(status["phases"]) == {"pre_checks", "snapshot", "transfer", "switchover", "cleanup"}
    target = fleet.instance(status["target_instance_id"])
    assert target.spec.node_id == b.node_id()
    wait_for(lambda: fleet.instance(target.metadata.id).status.endpoint, what="new endpoint")
    after = httpx.get(f"{b.ingress}/w/counter/", timeout=5)
    assert int(after.text) == client.values[-1] + 1
    assert fleet.events("MigrationStarted") and fleet.events("MigrationSwitched")
    assert fleet.events("MigrationSucceeded")


def test_cold_migration_stops_then_starts_on_the_target(world: tuple[Fleet, Any, Any]) -> None:
    fleet, a, b = world
    instance_id = counter_on(fleet, a, "cold")
    created = migrate(fleet, instance_id, b.node_id(), type="cold")
    result = finished(fleet, created["metadata"]["id"])
    status = result["status"]
    assert status["state"] == "succeeded", (status["error"], status["message"])
    assert status["downtime_ms"] is not None and status["downtime_ms"] < 5000
    target = fleet.instance(status["target_instance_id"])
    assert target.spec.node_id == b.node_id()
    assert httpx.get(f"{b.ingress}/w/cold/", timeout=5).text == "1"  # cold: fresh state
    wait_for(lambda: not _exists(fleet, instance_id), what="the source to be deleted")


def test_a_dead_target_rolls_back_and_the_source_keeps_serving(
    world: tuple[Fleet, Any, Any],
) -> None:
    fleet, a, b = world
    instance_id = counter_on(fleet, a, "stays")
    before = int(httpx.get(f"{a.ingress}/w/stays/", timeout=5).text)
    b.kill()
    created = migrate(fleet, instance_id, b.node_id(), type="live")
    result = finished(fleet, created["metadata"]["id"], timeout=25)
    status = result["status"]
    assert status["state"] == "rolled_back", status
    assert "timed out" in status["error"] or "not ready" in status["error"]
    assert int(httpx.get(f"{a.ingress}/w/stays/", timeout=5).text) == before + 1
    source = fleet.instance(instance_id)
    assert (
        source.spec.desired_state == "running"
        and "edgeorch.io/migrating" not in source.metadata.labels
    )
    assert fleet.events("MigrationRolledBack")


def _exists(fleet: Fleet, instance_id: str) -> bool:
    try:
        fleet.instance(instance_id)
    except Exception:
        return False
    return True
