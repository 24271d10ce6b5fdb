"""Operations with a real server and real agent processes: a rollout to a version that fails
its HTTP health check rolls back on its own while the old version keeps serving; a drain moves
replicas without ever dropping below disruption.min_available."""

import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.agent.harness import AgentProcess, Fleet, running_fleet, start_all, wait_for

# A tiny HTTP server: answers its VERSION on every path; /healthz fails when VERSION is "bad".
APP = """
import http.server, os
V = os.environ["VERSION"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if self.path == "/healthz" and V == "bad" else 200
        body = V.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""
CHECK = {"http_path": "/healthz", "interval_seconds": 0.3, "timeout_seconds": 1,
         "failure_threshold": 2}  # fmt: skip


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One server and three agents for the module (agents take seconds to start)."""
    with running_fleet(tmp_path_factory.mktemp("ops")) as fleet:
        fleet.started = agents(fleet, 3)  # type: ignore[attr-defined]
        yield fleet


def agents(fleet: Fleet, count: int) -> list[AgentProcess]:
    """Start ``count`` agents and wait until their nodes are ready."""
    out = [fleet.agent(f"edge-{i}") for i in range(count)]
    start_all(*out)
    for agent in out:
        node = agent.node_id()
        wait_for(
            lambda n=node: fleet.api.get(f"/edge/nodes/{n}").json()["status"]["state"] == "ready",
            what=f"{agent.name} ready",
        )
    return out


def spec(version: str, **extra: Any) -> dict[str, Any]:
    return {
        "runtime": "process",
        "artifact": {"command": [sys.executable, "-c", APP], "env": {"VERSION": version}},
        "replicas": 2,
        "health_check": CHECK,
        "placement": {"max_instances_per_node": 1},
        **extra,
    }


def instances(fleet: Fleet, workload_id: str) -> list[dict[str, Any]]:
    items = fleet.api.get("/instances", params={"limit": 1000}).json()["items"]
    return [i for i in items if i["spec"]["workload_id"] == workload_id]


def available(fleet: Fleet, workload_id: str, generation: int | None = None) -> list[Any]:
    return [
        i
        for i in instances(fleet, workload_id)
        if i["spec"]["desired_state"] == "running"
        and i["status"]["state"] == "running"
        and i["status"]["healthy"] is True
        and (generation is None or i["spec"]["generation"] == generation)
    ]


def events(fleet: Fleet, workload_id: str) -> list[str]:
    items = fleet.api.get("/events", params={"limit": 1000}).json()["items"]
    return [e["reason"] for e in items if e["involved_object"]["id"] == workload_id]


def serves(agent: AgentProcess, name: str) -> str:
    return httpx.get(f"{agent.ingress}/w/{name}/", timeout=5).text


def test_failing_health_check_rolls_back_and_the_old_version_keeps_serving(fleet: Fleet) -> None:
    edge: list[AgentProcess] = fleet.started  # type: ignore[attr-defined]
    # Two replicas, at most one per node, on three nodes: room for the surge replica.
    body = {"metadata": {"name": "web"}, "spec": spec("v1", update={"max_unavailable": 0})}
    created = fleet.api.post("/workloads", json=body).json()
    wid = created["metadata"]["id"]
    wait_for(lambda: len(available(fleet, wid, 1)) == 2, 30, "two healthy v1 replicas")

    update = {"metadata": {"name": "web"}, "spec": spec("bad", update={"max_unavailable": 0})}
    assert fleet.api.put(f"/workloads/{wid}", json=update).status_code == 200

    lowest = 2

    def rolled_back() -> bool:
        nonlocal lowest
        lowest = min(lowest, len(available(fleet, wid, 1)))
        view = fleet.api.get(f"/workloads/{wid}/rollout").json()
        rollout = view["rollout"] or {}
        return bool(rollout.get("rollback")) and rollout.get("state") == "complete"

    wait_for(rolled_back, 40, "the automatic rollback to complete")
    assert lowest == 2  # the old version served with both replicas throughout
    reasons = events(fleet, wid)
    for reason in ("RolloutStarted", "RolloutFailed", "RolledBack", "RolloutComplete"):
        assert reason in reasons, reasons
    workload = fleet.api.get(f"/workloads/{wid}").json()
    assert workload["spec"]["artifact"]["env"] == {"VERSION": "v1"}
    assert workload["status"]["revision"] == 1
    wait_for(lambda: not [i for i in instances(fleet, wid) if i["spec"]["generation"] != 1], 20,
             "the failed version's instances to be gone")  # fmt: skip
    hosts = {i["spec"]["node_id"] for i in available(fleet, wid)}
    assert {serves(a, "web") for a in edge if a.node_id() in hosts} == {"v1"}
    undo = fleet.api.post(f"/workloads/{wid}/rollout/undo", json={"to_revision": 7})
    assert undo.status_code == 409 and "no revision 7" in undo.json()["detail"]
    assert fleet.api.delete(f"/workloads/{wid}").status_code == 200


def test_drain_moves_replicas_without_dropping_below_min_available(fleet: Fleet) -> None:
    edge: list[AgentProcess] = fleet.started  # type: ignore[attr-defined]
    body = {"metadata": {"name": "api"}, "spec": spec("v1", disruption={"min_available": 2})}
    wid = fleet.api.post("/workloads", json=body).json()["metadata"]["id"]
    first = wait_for(lambda: available(fleet, wid) if len(available(fleet, wid)) == 2 else None,
                     30, "two healthy replicas")  # fmt: skip
    victim = first[0]["spec"]["node_id"]
    answer = fleet.api.post(f"/edge/nodes/{victim}/drain")
    assert answer.status_code == 200 and answer.json()["left"] >= 1

    lowest = 2

    def drained() -> bool:
        nonlocal lowest
        lowest = min(lowest, len(available(fleet, wid)))
        return bool(fleet.api.get(f"/edge/nodes/{victim}/drain").json()["done"])

    wait_for(drained, 40, "the drain to finish")
    assert lowest >= 2
    live = [i for i in instances(fleet, wid) if i["spec"]["desired_state"] == "running"]
    assert victim not in {i["spec"]["node_id"] for i in live}
    wait_for(lambda: len(available(fleet, wid)) == 2, 20, "two healthy replicas elsewhere")
    wait_for(lambda: [e for e in fleet.events("NodeDrained") if e.involved_object.id == victim],
             10, "a NodeDrained event")  # fmt: skip
    node = fleet.api.get(f"/edge/nodes/{victim}").json()
    assert node["spec"]["scheduling"] == "draining"
    assert (
        fleet.api.post(f"/edge/nodes/{victim}/uncordon").json()["spec"]["scheduling"] == "enabled"
    )
    assert len(edge) == 3
