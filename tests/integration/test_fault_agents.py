"""Faults with real server and agent processes: kill -9, SIGSTOP (hung), server restart.

The server runs with short grace settings (suspect after 1 s, down after 2 s) and workloads
with ``lost_after: 1``, so a dead node's replicas move within about 4 s. The flap test doubles
them: its 0.3 s pause plus one 0.5 s heartbeat interval would leave only 0.2 s to spare under
a 1 s suspect-after, which a busy 2-core machine can eat.
"""

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.agent.harness import Fleet, running_fleet, start_all, wait_for

SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with running_fleet(tmp_path, NODE_SUSPECT_AFTER="1", NODE_DOWN_AFTER="2") as fleet:
        yield fleet


@pytest.fixture
def patient_fleet(tmp_path: Path) -> Iterator[Fleet]:
    with running_fleet(tmp_path, NODE_SUSPECT_AFTER="2", NODE_DOWN_AFTER="4") as fleet:
        yield fleet


def workload(fleet: Fleet, name: str, **spec: Any) -> str:
    body = {
        "runtime": "process",
        "artifact": {"command": SLEEPER},
        "replicas": 1,
        "placement": {"max_instances_per_node": 1},
        "disconnect": {"lost_after": 1},
        **spec,
    }
    answer = fleet.api.post("/workloads", json={"metadata": {"name": name}, "spec": body})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["metadata"]["id"])


def running(fleet: Fleet, workload_id: str) -> list[dict[str, Any]]:
    items = fleet.api.get("/instances", params={"limit": 1000}).json()["items"]
    return [
        i
        for i in items
        if i["spec"]["workload_id"] == workload_id
        and i["spec"]["desired_state"] == "running"
        and i["status"]["state"] == "running"
    ]


def node_state(fleet: Fleet, node_id: str) -> str:
    return str(fleet.api.get(f"/edge/nodes/{node_id}").json()["status"]["state"])


def two_agents(fleet: Fleet) -> tuple[Any, Any]:
    a, b = fleet.agent("edge-a"), fleet.agent("edge-b")
    start_all(a, b)
    a.node_id(), b.node_id()
    wait_for(lambda: node_state(fleet, a.node_id()) == "ready", what="edge-a ready")
    wait_for(lambda: node_state(fleet, b.node_id()) == "ready", what="edge-b ready")
    return a, b


def owner(fleet: Fleet, agents: tuple[Any, Any], workload_id: str) -> tuple[Any, Any]:
    (inst,) = wait_for(lambda: running(fleet, workload_id), 20, "the replica to run")
    first = next(x for x in agents if x.node_id() == inst["spec"]["node_id"])
    other = next(x for x in agents if x is not first)
    return first, other


def test_kill_9_agent_moves_its_replica_within_grace(fleet: Fleet) -> None:
    agents = two_agents(fleet)
    wid = workload(fleet, "web")
    victim, survivor = owner(fleet, agents, wid)
    killed = time.monotonic()
    victim.kill()
    moved = wait_for(
        lambda: [i for i in running(fleet, wid) if i["spec"]["node_id"] == survivor.node_id()],
        15,
        "the replica to run on the survivor",
    )
    elapsed = time.monotonic() - killed
    assert moved and elapsed < 2 + 1 + 5, elapsed  # down after 2 s, lost after 1 s, + a few
    assert node_state(fleet, victim.node_id()) == "down"
    assert fleet.events("NodeDown") and fleet.events("InstanceLost")


def test_sigstop_hung_agent_is_replaced_and_duplicates_resolved_on_sigcont(fleet: Fleet) -> None:
    agents = two_agents(fleet)
    wid = workload(fleet, "hung", disconnect={"lost_after": 1, "reconcile": "keep_replacement"})
    victim, survivor = owner(fleet, agents, wid)
    assert victim.process is not None
    os.kill(victim.process.pid, signal.SIGSTOP)
    try:
        wait_for(
            lambda: [i for i in running(fleet, wid) if i["spec"]["node_id"] == survivor.node_id()],
            15,
            "the replacement to run",
        )
    finally:
        os.kill(victim.process.pid, signal.SIGCONT)
    wait_for(lambda: node_state(fleet, victim.node_id()) == "ready", 15, "the node to return")

    def resolved() -> bool:
        live = running(fleet, wid)
        return len(live) == 1 and live[0]["spec"]["node_id"] == survivor.node_id()

    wait_for(resolved, 15, "the duplicate to be stopped (keep_replacement)")
    # The lifecycle controller notices the return on its next pass, which may come after the
    # workload controller has already resolved the duplicate.
    wait_for(lambda: fleet.events("NodeRecovered"), 10, "a NodeRecovered event")


def test_flap_shorter_than_grace_changes_nothing(patient_fleet: Fleet) -> None:
    fleet = patient_fleet
    agents = two_agents(fleet)
    wid = workload(fleet, "steady")
    victim, _ = owner(fleet, agents, wid)
    assert victim.process is not None
    os.kill(victim.process.pid, signal.SIGSTOP)
    time.sleep(0.3)  # under suspect-after (2 s) minus one heartbeat interval (0.5 s)
    os.kill(victim.process.pid, signal.SIGCONT)
    time.sleep(3)  # longer than suspect-after: a wrongly started countdown would end in it
    (inst,) = running(fleet, wid)
    assert inst["spec"]["node_id"] == victim.node_id()
    for reason in ("NodeSuspect", "NodeDown", "InstanceLost", "InstanceStopping"):
        assert not fleet.events(reason), reason


def test_server_restart_marks_no_node_down(fleet: Fleet) -> None:
    agents = two_agents(fleet)
    wid = workload(fleet, "calm")
    owner(fleet, agents, wid)
    fleet.server.kill()
    time.sleep(3)  # longer than down-after: a naive controller would call every node down
    fleet.server.start()
    time.sleep(3)
    for agent in agents:
        assert node_state(fleet, agent.node_id()) == "ready"
    assert not fleet.events("NodeDown") and not fleet.events("InstanceLost")
    assert len(running(fleet, wid)) == 1
