"""Client mistakes get RFC 9457 problems naming field, value and what is accepted, and change
nothing. No client mistake may produce a 500."""

from typing import Any

import pytest
from tests.api.conftest import Api


def _revision(api: Api) -> int:
    return int(api.client.get("/api/v1/edge/nodes").json()["metadata"]["revision"])


def _with(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    keys = path.split(".")
    target = doc
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "field", "accepted"),
    [
        ("spec.location.latitude", 200, "spec.location.latitude", "<= 90"),
        ("spec.capacity.cpu", -2, "spec.capacity.cpu", ">= 0"),
        ("spec.edge_type", "satellite", "spec.edge_type", "'mec'"),
        ("spec.gpu_vendor", "x", "spec.gpu_vendor", "known fields"),
        ("status", {"state": "ready"}, "status", "known fields"),
        ("metadata.id", "abc", "metadata.id", "known fields"),
        ("metadata.name", "Bad Name!", "metadata.name", ""),
        ("spec.country", "Germany", "spec.country", ""),
    ],
)
def test_bad_node_is_422_with_field_value_accepted(
    api: Api, path: str, value: Any, field: str, accepted: str
) -> None:
    before = _revision(api)
    response = api.client.post("/api/v1/edge/nodes", json=_with(api.node(), path, value))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    entry = next(e for e in problem["errors"] if e["field"] == field)
    assert entry["value"] == value
    assert accepted in entry.get("accepted", "")
    assert field in problem["detail"]
    assert _revision(api) == before


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 422),
        (b'"a string"', "application/json", 422),
        (b"null", "application/json", 422),
        (b'{"kind": "Node"}', "application/json", 422),
        (b"\xff\xfe\x00", "application/json", 400),
        (b'{"metadata": {"name": 5}, "spec": []}', "application/json", 422),
    ],
)
def test_malformed_bodies_never_500(
    api: Api, content: bytes, content_type: str, status: int
) -> None:
    for path in ("/api/v1/edge/nodes", "/api/v1/workloads"):
        response = api.client.post(path, content=content, headers={"content-type": content_type})
        assert response.status_code == status, (path, response.text)
        assert response.json()["status"] == status


def test_body_over_limit_is_413(api: Api) -> None:
    doc = api.node()
    doc["metadata"]["labels"] = {f"k{i}": "v" * 60 for i in range(2000)}
    before = _revision(api)
    response = api.client.post("/api/v1/edge/nodes", json=doc)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert _revision(api) == before


def test_bad_workloads(api: Api) -> None:
    cases = [
        (api.workload(runtime="wasm"), "artifact.digest"),
        (api.workload(replicas=-1), "spec.replicas"),
        (api.workload(resources={"cpu": -1}), "spec.resources.cpu"),
        (api.workload(placement={"residency": {"regulation": "HIPAA"}}), "GDPR"),
        (api.workload(placement={"users": [{"latitude": 95, "longitude": 0}]}), "latitude"),
    ]
    for doc, fragment in cases:
        response = api.client.post("/api/v1/workloads", json=doc)
        assert response.status_code == 422, response.text
        assert fragment in response.text


def test_unknown_endpoint_and_method(api: Api) -> None:
    missing = api.client.get("/api/v1/nodez")
    assert missing.status_code == 404
    assert "/api/docs" in missing.json()["detail"]
    wrong = api.client.patch("/api/v1/edge/nodes")
    assert wrong.status_code == 405
