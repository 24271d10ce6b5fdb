"""Credentials: join tokens are single-purpose, node credentials act only as their own node.

The tests share one server (each uses nodes and tokens of its own); the agents a test starts
are stopped after it."""

from datetime import timedelta

import httpx
import pytest
from tests.agent.harness import (
    FACTS,
    AgentProcess,
    Fleet,
    module_fleet,
    shared_fleet,
    start_all,
    wait_for,
)
from tests.e2e.conftest import free_port

from edgeorch.domain.enums import TokenRole
from edgeorch.store import create_token

__all__ = ["module_fleet", "shared_fleet"]


@pytest.fixture
def fleet(shared_fleet: Fleet) -> Fleet:
    return shared_fleet


def test_node_credential_acts_only_as_its_own_node(fleet: Fleet) -> None:
    a, b = fleet.agent("edge-c"), fleet.agent("edge-d")
    start_all(a, b)
    a_id, b_id = a.node_id(), b.node_id()
    headers = {"authorization": f"Bearer {a.credential()}"}
    api = fleet.server.url + "/api/v1"

    foreign = httpx.post(f"{api}/agent/nodes/{b_id}/heartbeat", json={}, headers=headers)
    assert foreign.status_code == 403
    assert b_id in foreign.json()["detail"]
    watch = httpx.get(f"{api}/agent/nodes/{b_id}/assignments", headers=headers)
    assert watch.status_code == 403
    assert httpx.get(f"{api}/edge/nodes", headers=headers).status_code == 403
    own = httpx.post(f"{api}/agent/nodes/{a_id}/heartbeat", json={}, headers=headers)
    assert own.status_code == 200
    node = fleet.api.get(f"/edge/nodes/{a_id}").json()
    assert node["status"]["state"] == "ready"
    assert "wasm_runtime" in node["spec"]["capabilities"]
    assert "process_runtime" in node["spec"]["capabilities"]


def test_expired_revoked_and_used_join_tokens_are_refused(fleet: Fleet) -> None:
    with fleet.db.write() as session:
        expired = create_token(
            session=session, role=TokenRole.JOIN, ttl=timedelta(microseconds=1)
        ).secret
    created = fleet.api.post("/tokens", json={"role": "join"}).json()
    revoked = created["secret"]
    assert fleet.api.delete(f"/tokens/{created['id']}").status_code in (200, 204)
    body = {
        "name": "edge-x",
        "measured": {"arch": "x86_64", "capacity": {"cpu": 1, "memory_mb": 512}},
    }
    url = fleet.server.url + "/api/v1/agent/join"
    for secret in (expired, revoked):
        answer = httpx.post(url, json=body, headers={"authorization": f"Bearer {secret}"})
        assert answer.status_code == 401, answer.text

    agent = AgentProcess(
        fleet.server, fleet.tmp / "x", "edge-x", expired, free_port(), fleet.tmp / "x.log"
    )
    fleet.agents.append(agent)
    agent.spawn()  # not start(): refused, it may exit before its ingress is seen answering
    assert agent.process is not None
    assert agent.process.wait(20) == 1
    assert "refused" in agent.log.read_text()

    used = fleet.join_token()
    first = httpx.post(url, json=body, headers={"authorization": f"Bearer {used}"})
    assert first.status_code == 422  # a new node needs its location facts
    facts = dict(zip(FACTS[::2], FACTS[1::2], strict=True))
    body["facts"] = {k.removeprefix("--").replace("-", "_"): v for k, v in facts.items()}
    joined = httpx.post(url, json=body, headers={"authorization": f"Bearer {used}"})
    assert joined.status_code == 200, joined.text
    again = httpx.post(url, json=body, headers={"authorization": f"Bearer {used}"})
    assert again.status_code == 401


def test_pre_registered_node_goes_from_pending_to_ready(fleet: Fleet) -> None:
    manifest = {
        "metadata": {"name": "edge-pre"},
        "spec": {
            "edge_type": "cdn",
            "region": "ap-southeast",
            "location": {"latitude": -33.9, "longitude": 151.2},
            "country": "AU",
            "capacity": {"cpu": 2, "memory_mb": 2048},
            "capabilities": ["gpu_acceleration"],
        },
    }
    created = fleet.api.post("/edge/nodes", json=manifest)
    assert created.status_code == 201, created.text
    assert created.json()["status"]["state"] == "pending"
    agent = fleet.agent("edge-pre")
    agent.start()
    assert agent.node_id() == created.json()["metadata"]["id"]
    node = wait_for(
        lambda: (
            (n := fleet.api.get("/edge/nodes/edge-pre").json())["status"]["state"] == "ready" and n
        )
    )
    assert node["spec"]["region"] == "ap-southeast"  # the operator's facts are kept
    assert {"gpu_acceleration", "wasm_runtime"} <= set(node["spec"]["capabilities"])
