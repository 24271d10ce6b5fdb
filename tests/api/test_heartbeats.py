"""Heartbeats served from memory, with due writes group-committed (``api/heartbeats.py``)."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.api.conftest import Api
from tests.conftest import FakeClock

from edgeorch.agent.presence import PERSIST_INTERVAL, Presence
from edgeorch.agent.watch import AssignmentHub
from edgeorch.api import heartbeats
from edgeorch.api.heartbeats import HeartbeatState
from edgeorch.domain.enums import NodeState
from edgeorch.schemas.instance import InstanceSpec
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Database,
    NotFound,
    create_instance,
    create_workload,
    read_instance,
    read_node,
    update_node_status,
)

JOIN = {
    "name": "edge-1",
    "facts": {"edge_type": "mec", "region": "eu-west", "latitude": 48.8, "longitude": 2.3,
              "country": "FR"},
    "measured": {"arch": "x86_64", "capacity": {"cpu": 16, "memory_mb": 32768}},
}  # fmt: skip


class Ticks:
    """A monotonic clock for the presence's persist interval."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Agent:
    api: Api
    client: TestClient
    node_id: str
    beats: HeartbeatState
    ticks: Ticks

    def beat(self, **body: Any) -> Any:
        body.setdefault("utilization", {"cpu": 0.2, "memory": 0.3})
        answer = self.client.post(f"/api/v1/agent/nodes/{self.node_id}/heartbeat", json=body)
        return answer

    def stored(self) -> Any:
        with self.api.database.session() as session:
            return read_node(session=session, ref=self.node_id, tenant=None)


@pytest.fixture
def agent(api: Api) -> Iterator[Agent]:
    app = api.client.app
    assert isinstance(app, FastAPI)
    ticks = Ticks()
    # What the routes would create on the first agent call, with clocks and intervals the test
    # controls: flushes and change-feed reads happen when the test says so (urgent writes
    # still commit at once: they wake the thread).
    app.state.agent_presence = Presence(clock=ticks)
    app.state.agent_hub = AssignmentHub(api.database)
    beats = HeartbeatState(
        api.database, app.state.agent_presence, flush_interval=3600, poll_interval=3600
    )
    app.state.heartbeats = beats
    secret = api.client.post("/api/v1/tokens", json={"role": "join"}).json()["secret"]
    joined = api.as_token(secret).post("/api/v1/agent/join", json=JOIN).json()
    client = api.as_token(joined["credential"])
    yield Agent(api, client, joined["node_id"], beats, ticks)
    beats.close()


def _instance(api: Api, node_id: str) -> str:
    with api.database.write() as session:
        workload = create_workload(
            session=session,
            workload=WorkloadCreate.model_validate(
                {"metadata": {"name": "web"},
                 "spec": {"runtime": "process", "artifact": {"command": ["sleep", "60"]}}}
            ),
        )  # fmt: skip
        instance = create_instance(
            session=session,
            spec=InstanceSpec(workload_id=workload.metadata.id, node_id=node_id, replica=0),
        )
    return instance.metadata.id


class Statements:
    """Counts SQL statements run by threads other than the heartbeat writer."""

    def __init__(self, api: Api) -> None:
        self.count = 0
        self._engine = api.database.engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        if threading.current_thread().name != "edgeorch-heartbeats":
            self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


def test_steady_state_beat_touches_no_database(agent: Agent) -> None:
    assert agent.beat(ingress="http://10.0.0.1:8080").json()["persisted"] is True
    statements = Statements(agent.api)
    try:
        for cpu in (0.21, 0.22, 0.2, 0.25):
            answer = agent.beat(
                utilization={"cpu": cpu, "memory": 0.3}, ingress="http://10.0.0.1:8080"
            )
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"state": "ready", "persisted": False, "instances_updated": 0}
    finally:
        statements.close()
    assert statements.count == 0


def test_periodic_write_is_answered_at_once_and_group_committed(
    agent: Agent, clock: FakeClock
) -> None:
    agent.beat(ingress="http://10.0.0.1:8080")
    before = agent.stored().status.last_heartbeat
    clock.advance(timedelta(seconds=PERSIST_INTERVAL + 1))
    agent.ticks.now += PERSIST_INTERVAL + 1
    answer = agent.beat(ingress="http://10.0.0.1:8080")
    assert answer.json()["persisted"] is True
    # Answered before the commit: the row still has the older heartbeat...
    assert agent.stored().status.last_heartbeat == before
    agent.beats.flush()
    # ...and has the new one once the batch is committed.
    assert agent.stored().status.last_heartbeat > before


def test_changed_instance_report_is_durable_when_acknowledged(agent: Agent) -> None:
    instance_id = _instance(agent.api, agent.node_id)
    report = {"id": instance_id, "state": "running", "endpoint": "http://10.0.0.1:9000"}
    answer = agent.beat(instances=[report])
    assert answer.json()["instances_updated"] == 1
    # No flush by the test: the ack came after the commit.
    with agent.api.database.session() as session:
        stored = read_instance(session=session, ref=instance_id, tenant=None)
    assert stored.status.state.value == "running"
    assert stored.status.endpoint == "http://10.0.0.1:9000"
    # Reporting the same again writes nothing.
    assert agent.beat(instances=[report]).json()["instances_updated"] == 0


def test_instance_bound_after_the_view_was_read_is_reported_at_once(agent: Agent) -> None:
    agent.beat()  # the view is read now, without the instance
    instance_id = _instance(agent.api, agent.node_id)  # a controller binds one; feed not read
    answer = agent.beat(instances=[{"id": instance_id, "state": "running"}])
    assert answer.json()["instances_updated"] == 1
    with agent.api.database.session() as session:
        assert read_instance(session=session, ref=instance_id, tenant=None).status.state == (
            "running"
        )


def test_deleted_node_is_not_resurrected(agent: Agent) -> None:
    agent.beat()
    agent.ticks.now += PERSIST_INTERVAL + 1  # the next beat's periodic write is due
    # A periodic write is queued, then an operator deletes the node before the batch commits.
    assert agent.beat().json()["persisted"] is True
    assert agent.api.client.delete(f"/api/v1/edge/nodes/{agent.node_id}").status_code == 200
    agent.beats.flush()
    with pytest.raises(NotFound), agent.api.database.session() as session:
        read_node(session=session, ref=agent.node_id, tenant=None)
    # Once the change feed is read the view is gone, and the still-cached credential's beat
    # is a 404, not a new row.
    agent.beats.follow()
    assert agent.beat().status_code == 404
    with pytest.raises(NotFound), agent.api.database.session() as session:
        read_node(session=session, ref=agent.node_id, tenant=None)


def test_stale_beat_does_not_undo_a_node_down(agent: Agent) -> None:
    agent.beat()
    node = agent.stored()
    # The node-lifecycle controller of another replica marks the node down; this server has not
    # read the change feed yet (a commit of its own would wake its reader).
    down = node.status.model_copy(update={"state": NodeState.DOWN, "message": "silent"})
    other = Database(agent.api.database.url.render_as_string(hide_password=False))
    try:
        with other.write() as session:
            update_node_status(session=session, node_id=agent.node_id, status=down)
    finally:
        other.dispose()
    agent.ticks.now += PERSIST_INTERVAL + 1
    assert agent.beat().json()["persisted"] is True  # based on the view read before the write
    agent.beats.flush()
    assert agent.stored().status.state is NodeState.DOWN  # the stale write was dropped
    # The next beat reads the node again and makes it ready: it is alive after all.
    agent.beats.follow()
    assert agent.beat().json() == {"state": "ready", "persisted": True, "instances_updated": 0}
    assert agent.stored().status.state is NodeState.READY


def test_a_failed_commit_is_not_acknowledged(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    instance_id = _instance(agent.api, agent.node_id)
    agent.beat()

    def broken(**_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(heartbeats, "update_instance_status", broken)
    report = {"id": instance_id, "state": "running"}
    client = TestClient(
        agent.client.app, headers=agent.client.headers, raise_server_exceptions=False
    )
    answer = client.post(
        f"/api/v1/agent/nodes/{agent.node_id}/heartbeat", json={"instances": [report]}
    )
    assert answer.status_code == 500  # the agent will send the report again
    with agent.api.database.session() as session:
        assert read_instance(session=session, ref=instance_id, tenant=None).status.state == (
            "pending"
        )
    monkeypatch.undo()
    # The view was dropped with the failed batch: the next beat reads the store and writes.
    assert agent.beat(instances=[report]).json()["instances_updated"] == 1


def test_bad_heartbeat_bodies_get_problems_and_change_nothing(agent: Agent) -> None:
    """The heartbeat is served ahead of the router (``lane_routes``): the same problem+json."""
    path = f"/api/v1/agent/nodes/{agent.node_id}/heartbeat"
    before = agent.stored().metadata.resource_version
    malformed = agent.client.post(
        path, content=b'{"utilization": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400, malformed.text
    assert malformed.headers["content-type"] == "application/problem+json"
    assert "not valid JSON" in malformed.json()["detail"]
    wrong = agent.client.post(path, json={"utilization": {"cpu": 2.5, "memory": 0.1}})
    assert wrong.status_code == 422, wrong.text
    (error,) = wrong.json()["errors"]
    assert error["field"] == "utilization.cpu" and error["value"] == 2.5
    unknown = agent.client.post(path, json={"utilization": {"cpu": 0.1}, "colour": "red"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "colour"
    assert agent.stored().metadata.resource_version == before


def test_heartbeat_lane_checks_the_node_credential(agent: Agent) -> None:
    body = {"utilization": {"cpu": 0.2, "memory": 0.3}}
    other = agent.client.post("/api/v1/agent/nodes/node-someone-else/heartbeat", json=body)
    assert other.status_code == 403
    assert "may not act as node node-someone-else" in other.json()["detail"]
    admin = agent.api.client.post(f"/api/v1/agent/nodes/{agent.node_id}/heartbeat", json=body)
    assert admin.status_code == 403
    anonymous = agent.api.as_token(None).post(
        f"/api/v1/agent/nodes/{agent.node_id}/heartbeat", json=body
    )
    assert anonymous.status_code == 401


def _watch_lane(app: Any) -> Any:
    from edgeorch.api.routes.agent import _WatchLaneRoute

    (lane,) = [r for r in app.router.routes if isinstance(r, _WatchLaneRoute)]
    return lane


def test_watch_lane_takes_plain_queries_and_leaves_the_rest_to_the_route(agent: Agent) -> None:
    from starlette.routing import Match

    lane = _watch_lane(agent.client.app)
    path = f"/api/v1/agent/nodes/{agent.node_id}/assignments"

    def match(query: str) -> Match:
        scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode()}
        return lane.matches(scope)[0]

    assert match("") is Match.FULL
    assert match("since=12&digest=abc&timeout=55") is Match.FULL
    assert match("timeout=0.5") is Match.FULL
    for odd in ("since=-1", "since=x", "timeout=-1", "timeout=1e3", "timeout=nan", "since="):
        assert match(odd) is Match.NONE, odd
    # What the lane leaves goes to the documented route: FastAPI's problem, naming the field.
    bad = agent.client.get(path, params={"timeout": "-1"})
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["field"] == "timeout"
    bad = agent.client.get(path, params={"since": "x"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"
    # A plain query, through the lane: the node's set, then a watch on its digest that times out.
    first = agent.client.get(path, params={"since": "0", "timeout": "0"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["node_id"] == agent.node_id and body["changed"] is True
    again = agent.client.get(path, params={"digest": body["digest"], "timeout": "0.05"})
    assert again.status_code == 200 and again.json()["changed"] is False


def test_watch_lane_checks_the_node_credential(agent: Agent) -> None:
    other = agent.client.get("/api/v1/agent/nodes/node-someone-else/assignments")
    assert other.status_code == 403
    assert "may not act as node node-someone-else" in other.json()["detail"]
    path = f"/api/v1/agent/nodes/{agent.node_id}/assignments"
    assert agent.api.client.get(path).status_code == 403
    assert agent.api.as_token(None).get(path).status_code == 401
