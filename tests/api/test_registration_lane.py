"""``POST /api/v1/edge/nodes`` is served by a hand-written lane (``routes/nodes.py``): every
answer must be the one FastAPI's documented route gives for the same request, errors included
(status, problem body, order of the checks), and a registration must record its event and its
changes in one revision."""

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.api.conftest import Api

from edgeorch.api import problems
from edgeorch.api.routes import nodes
from edgeorch.schemas.node import Node
from edgeorch.store import list_changes, list_events
from edgeorch.store.sql.orm import LabelRow

PATH = "/api/v1/edge/nodes"


def _documented_only(api: Api) -> FastAPI:
    """An app serving the registration through FastAPI's own route (no lane), over the same
    store, token cache and clock as ``api``."""
    app = FastAPI()
    problems.install(app)
    for key in ("database", "settings", "clock", "token_cache"):
        setattr(app.state, key, getattr(api.client.app.state, key))  # type: ignore[attr-defined]
    app.add_api_route(PATH, nodes.post_node, methods=["POST"], status_code=201, response_model=Node)
    return app


def _doc(name: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "metadata": {"name": name, "labels": {"rack": "r1"}},
        "spec": {
            "edge_type": "cdn",
            "region": "eu-west",
            "location": {"latitude": 52.37, "longitude": 4.9},
            "country": "NL",
            "capacity": {"cpu": 8, "memory_mb": 16384},
        },
    }
    for path, value in changes.items():
        target = doc
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return doc


def _json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# (body, content type, token kind): every way a request can go wrong, and some that succeed.
CASES: list[tuple[bytes, str | None, str]] = [
    (b"{not json", "application/json", "admin"),
    (b"{not json", "application/json", "none"),  # malformed: 400 before the token is checked
    (b"\xff\xfe\x00", "application/json", "admin"),
    (b"", "application/json", "admin"),
    (b"", "application/json", "none"),
    (b"null", "application/json", "admin"),
    (b"[1, 2, 3]", "application/json", "admin"),
    (_json(_doc("a")), "text/plain", "admin"),
    (_json(_doc("a")), None, "admin"),
    (_json(_doc("a", spec__location__latitude=200)), "application/json", "admin"),
    (_json(_doc("a", spec__location__latitude=200)), "application/json", "none"),
    (_json(_doc("a", spec__location__latitude=200)), "application/json", "bogus"),
    (_json(_doc("a", spec__location__latitude=200)), "application/json", "reader"),
    (_json(_doc("a", spec__gpu_vendor="x")), "application/json", "admin"),
    (_json(_doc("Bad Name!")), "application/json", "admin"),
    (_json(_doc("a", metadata__tenant="nowhere")), "application/json", "admin"),
    (_json(_doc("taken", metadata__tenant="acme")), "application/json", "acme"),  # 409
    (_json(_doc("a", metadata__tenant="default")), "application/json", "acme"),
    (_json(_doc("taken")), "application/json", "admin"),  # 409
    (_json(_doc("a")), "application/json", "reader"),
]


@pytest.fixture
def tokens(api: Api) -> dict[str, str | None]:
    tenant = {"kind": "Tenant", "metadata": {"name": "acme"}}
    assert api.client.post("/api/v1/tenants", json=tenant).status_code == 201
    reader = api.client.post("/api/v1/tokens", json={"role": "reader", "name": "r"}).json()
    acme = api.client.post("/api/v1/tokens", json={"role": "operator", "tenant": "acme"}).json()
    assert api.client.post(PATH, json=_doc("taken")).status_code == 201
    taken_in_acme = _doc("taken", metadata__tenant="acme")
    assert api.client.post(PATH, json=taken_in_acme).status_code == 201
    return {
        "admin": api.admin_token,
        "none": None,
        "bogus": "eo_bogus",
        "reader": reader["secret"],
        "acme": acme["secret"],
    }


def _send(
    client: TestClient, body: bytes, content_type: str | None, token: str | None
) -> tuple[int, dict[str, str], Any]:
    headers = {} if content_type is None else {"content-type": content_type}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    response = client.post(PATH, content=body, headers=headers)
    kept = {
        k: response.headers[k]
        for k in ("content-type", "www-authenticate")
        if k in response.headers
    }
    return response.status_code, kept, response.json()


def test_the_lane_answers_as_the_documented_route(api: Api, tokens: dict[str, str | None]) -> None:
    # One app pair for the whole table (an app per case made this the slowest test here).
    lane = TestClient(api.client.app)
    reference = TestClient(_documented_only(api))
    for body, content_type, who in CASES:
        case = (body[:60], content_type, who)
        want = _send(reference, body, content_type, tokens[who])
        assert want[0] >= 400, f"the case was meant to fail: {case} {want}"
        assert _send(lane, body, content_type, tokens[who]) == want, case


@pytest.mark.parametrize(
    ("encoding", "content_type"),
    [
        ("utf-8", "application/json"),
        ("utf-8", "application/json; charset=utf-8"),
        ("utf-8", "application/vnd.edgeorch+json"),
        ("utf-16", "application/json"),  # not one-pass JSON: read FastAPI's way, and accepted
    ],
)
def test_a_registration_answers_as_the_documented_route(
    api: Api, encoding: str, content_type: str
) -> None:
    def post(client: TestClient, name: str) -> Any:
        body = json.dumps(_doc(name, metadata__labels={"k": "v"})).encode(encoding)
        headers = {"content-type": content_type, "authorization": f"Bearer {api.admin_token}"}
        return client.post(PATH, content=body, headers=headers)

    lane = post(TestClient(api.client.app), "via-lane")
    reference = post(TestClient(_documented_only(api)), "via-route")
    assert lane.status_code == reference.status_code == 201, (lane.text, reference.text)
    for response in (lane, reference):
        body = response.json()
        assert response.headers["location"] == f"{PATH}/{body['metadata']['id']}"
        assert response.headers["content-type"] == "application/json"
        assert api.client.get(response.headers["location"]).json() == body
    one, two = lane.json(), reference.json()
    for doc in (one, two):
        for key in ("id", "name", "resource_version", "created_at", "updated_at"):
            doc["metadata"].pop(key)
    assert one == two


def test_a_registration_records_its_event_changes_and_labels_in_one_revision(api: Api) -> None:
    database = api.database
    with database.session() as session:
        start = list_changes(session=session, since=0)[-1].revision
    node = api.client.post(PATH, json=_doc("recorded", metadata__labels={"a": "1", "b": "2"}))
    assert node.status_code == 201, node.text
    node_id = node.json()["metadata"]["id"]
    revision = node.json()["metadata"]["resource_version"]
    with database.session() as session:
        changes = list_changes(session=session, since=start)
        events = list_events(session=session, involved_id=node_id).items
        labels = session.execute(
            select(LabelRow.key, LabelRow.value).where(LabelRow.object_id == node_id)
        ).all()
    assert [(c.kind, c.op, c.revision) for c in changes] == [
        ("Node", "created", revision),
        ("Event", "created", revision),
    ]
    assert [(e.reason, e.revision) for e in events] == [("NodeRegistered", revision)]
    assert "registered in eu-west (cdn, NL)" in events[0].message
    assert sorted(labels) == [("a", "1"), ("b", "2")]
