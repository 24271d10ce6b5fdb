"""``GET /api/v1/stream`` over HTTP against a real server process: framing, resuming by
revision, and the cap on clients."""

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import ServerProcess, free_port

MAX_CLIENTS = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("stream")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEORCH_")}
    env |= {"EDGEORCH_CONFIG": str(tmp / "client.yaml")}
    env |= {"EDGEORCH_STREAM_MAX_CLIENTS": str(MAX_CLIENTS), "EDGEORCH_CONTROLLERS": "0"}
    proc = ServerProcess(data_dir=tmp / "data", port=free_port(), env=env, log=tmp / "log")
    proc.start()
    yield proc
    proc.stop()


def _auth(server: ServerProcess) -> dict[str, str]:
    return {"authorization": f"Bearer {server.admin_token}"}


def _messages(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """SSE messages as {event, id, data}; comment lines are yielded as {event: 'comment'}."""
    fields: dict[str, Any] = {}
    for line in response.iter_lines():
        if line == "":
            if fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            yield {"event": "comment", "text": line}
        else:
            key, _, value = line.partition(": ")
            fields[key] = json.loads(value) if key == "data" else value


def _create_node(server: ServerProcess, name: str) -> int:
    node = {
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {
            "edge_type": "mec",
            "region": "ap-northeast",
            "location": {"latitude": 35.68, "longitude": 139.69},
            "country": "JP",
            "capacity": {"cpu": 16, "memory_mb": 65536},
        },
    }
    answer = httpx.post(f"{server.url}/api/v1/edge/nodes", json=node, headers=_auth(server))
    assert answer.status_code == 201, answer.text
    return int(answer.json()["metadata"]["resource_version"])


def _revision(server: ServerProcess) -> int:
    fleet = httpx.get(f"{server.url}/api/v1/dashboard/fleet", headers=_auth(server)).json()
    return int(fleet["revision"])


def _first_change(server: ServerProcess, headers: dict[str, str], params: dict[str, Any]) -> Any:
    with httpx.stream(
        "GET", f"{server.url}/api/v1/stream", headers=headers, params=params, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in _messages(response):
            if message["event"] == "changes" and message["data"]["changes"]:
                return message
    raise AssertionError("the stream ended without a change")


def test_a_committed_change_arrives_with_its_revision_as_the_id(server: ServerProcess) -> None:
    since = _revision(server)
    timer = threading.Timer(0.5, _create_node, args=(server, "tokyo-1"))
    timer.start()
    message = _first_change(server, _auth(server), {"since": since})
    timer.join()
    kinds = {c["kind"] for c in message["data"]["changes"]}
    assert kinds <= {"Node", "Event"}, kinds
    (change,) = [c for c in message["data"]["changes"] if c["kind"] == "Node"]
    assert change["op"] == "created"
    assert change["object"]["name"] == "tokyo-1"
    assert change["object"]["state"] == "pending"
    assert change["object"]["region"] == "ap-northeast"
    assert int(message["id"]) == message["data"]["revision"] == change["revision"] > since


def test_reconnecting_with_last_event_id_misses_nothing(server: ServerProcess) -> None:
    since = _revision(server)
    created = _create_node(server, "osaka-1")  # written while no stream is open
    message = _first_change(server, _auth(server) | {"last-event-id": str(since)}, {})
    nodes = [c["name"] for c in message["data"]["changes"] if c["kind"] == "Node"]
    assert nodes == ["osaka-1"]
    assert message["data"]["revision"] == created


def test_a_bad_last_event_id_is_a_clear_422(server: ServerProcess) -> None:
    answer = httpx.get(
        f"{server.url}/api/v1/stream", headers=_auth(server) | {"last-event-id": "yesterday"}
    )
    assert answer.status_code == 422
    assert "Last-Event-ID 'yesterday'" in answer.json()["detail"]


def test_streams_beyond_the_cap_are_refused(server: ServerProcess) -> None:
    opened: list[Any] = []
    readers = []  # keep each reader alive: a closed reader closes its connection
    try:
        for _ in range(MAX_CLIENTS):
            request = httpx.stream(
                "GET", f"{server.url}/api/v1/stream", headers=_auth(server), timeout=10
            )
            response = request.__enter__()
            opened.append(request)
            readers.append(_messages(response))
            assert next(readers[-1])["event"] == "hello"
        refused = httpx.get(f"{server.url}/api/v1/stream", headers=_auth(server), timeout=5)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "10"
        assert "EDGEORCH_STREAM_MAX_CLIENTS=2" in refused.json()["detail"]
    finally:
        for request in opened:
            request.__exit__(None, None, None)
