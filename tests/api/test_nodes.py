"""Nodes through the API: register, address, filter, paginate, reconfigure, remove."""

from typing import Any

import pytest
from tests.api.conftest import Api


def test_register_is_pending_with_location_and_envelope(api: Api) -> None:
    response = api.client.post("/api/v1/edge/nodes", json=api.node("mec-fra-01"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["apiVersion"] == "edgeorch.io/v1"
    assert body["kind"] == "Node"
    assert body["status"]["state"] == "pending"
    assert body["metadata"]["tenant"] == "default"
    assert response.headers["location"] == f"/api/v1/edge/nodes/{body['metadata']['id']}"


def test_address_by_id_name_and_prefix(api: Api) -> None:
    node = api.client.post("/api/v1/edge/nodes", json=api.node("site-a")).json()
    node_id = node["metadata"]["id"]
    for ref in (node_id, "site-a", node_id[:8]):
        got = api.client.get(f"/api/v1/edge/nodes/{ref}")
        assert got.status_code == 200, ref
        assert got.json()["metadata"]["id"] == node_id
    missing = api.client.get("/api/v1/edge/nodes/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "nope" in missing.json()["detail"]


def test_duplicate_name_is_409(api: Api) -> None:
    assert api.client.post("/api/v1/edge/nodes", json=api.node("dup")).status_code == 201
    again = api.client.post("/api/v1/edge/nodes", json=api.node("dup"))
    assert again.status_code == 409
    assert "dup" in again.json()["detail"]


def _seed(api: Api) -> None:
    specs: list[tuple[str, dict[str, Any]]] = [
        ("a-mec", {"edge_type": "mec", "region": "eu-central", "labels": {"site": "fra"}}),
        ("b-cdn", {"edge_type": "cdn", "region": "eu-west", "labels": {"site": "ams"}}),
        ("c-cdn", {"edge_type": "cdn", "region": "eu-central", "labels": {"site": "fra"}}),
        ("d-iot", {"edge_type": "iot", "region": "eu-west", "labels": {"tier": "canary"}}),
    ]
    for name, spec in specs:
        assert api.client.post("/api/v1/edge/nodes", json=api.node(name, **spec)).status_code == 201


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("region=eu-central", ["a-mec", "c-cdn"]),
        ("edge_type=cdn", ["b-cdn", "c-cdn"]),
        ("region=eu-west&edge_type=cdn", ["b-cdn"]),
        ("label_selector=site=fra", ["a-mec", "c-cdn"]),
        ("label_selector=site!=fra", ["b-cdn", "d-iot"]),
        ("label_selector=tier", ["d-iot"]),
        ("label_selector=!site", ["d-iot"]),
        ("status=pending", ["a-mec", "b-cdn", "c-cdn", "d-iot"]),
        ("status=ready", []),
    ],
)
def test_list_filters(api: Api, query: str, names: list[str]) -> None:
    _seed(api)
    response = api.client.get(f"/api/v1/edge/nodes?{query}")
    assert response.status_code == 200, response.text
    assert [n["metadata"]["name"] for n in response.json()["items"]] == names


def test_pagination_visits_every_node_once(api: Api) -> None:
    for i in range(7):
        api.client.post("/api/v1/edge/nodes", json=api.node(f"node-{i}"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["continue"] = cursor
        page = api.client.get("/api/v1/edge/nodes", params=params).json()
        seen += [n["metadata"]["name"] for n in page["items"]]
        cursor = page["metadata"].get("continue")
        if not cursor:
            break
    assert seen == [f"node-{i}" for i in range(7)]


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [
        ("edge_type=satellite", 422, "edge_type"),
        ("status=sleeping", 422, "status"),
        ("limit=0", 422, "limit"),
        ("limit=5000", 422, "limit"),
        ("continue=%%%garbage", 400, "continue"),
        ("label_selector=a==b==c", 400, "a==b==c"),
    ],
)
def test_bad_list_queries(api: Api, query: str, status: int, fragment: str) -> None:
    response = api.client.get(f"/api/v1/edge/nodes?{query}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.text


def test_config_update_and_stale_version(api: Api) -> None:
    node = api.client.post("/api/v1/edge/nodes", json=api.node("cfg")).json()
    version = node["metadata"]["resource_version"]
    spec = dict(node["spec"], cost_per_hour=0.9, scheduling="cordoned")
    ok = api.client.put(
        "/api/v1/edge/nodes/cfg/config",
        json={"spec": spec, "labels": {"a": "b"}, "resource_version": version},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["spec"]["cost_per_hour"] == 0.9
    assert ok.json()["metadata"]["labels"] == {"a": "b"}
    assert ok.json()["metadata"]["resource_version"] > version
    stale = api.client.put(
        "/api/v1/edge/nodes/cfg/config", json={"spec": spec, "resource_version": version}
    )
    assert stale.status_code == 409
    assert str(version) in stale.json()["detail"]


def test_delete_then_gone_and_events_recorded(api: Api) -> None:
    api.client.post("/api/v1/edge/nodes", json=api.node("gone"))
    assert api.client.delete("/api/v1/edge/nodes/gone").status_code == 200
    assert api.client.get("/api/v1/edge/nodes/gone").status_code == 404
    events = api.client.get("/api/v1/events?kind=Node").json()["items"]
    assert [e["reason"] for e in events] == ["NodeRegistered", "NodeRemoved"]
    assert events[0]["revision"] < events[1]["revision"]


def test_list_items_are_exactly_what_get_and_post_answer(api: Api) -> None:
    # The list splices the stored JSON into its answer without validating it; it must be the
    # same object, field for field, as the validated single-object answers.
    posted = [
        api.client.post("/api/v1/edge/nodes", json=api.node(name, labels=labels)).json()
        for name, labels in (("l-a", {}), ("l-b", {"rack": "r1", "site": "fra"}), ("l-c", {}))
    ]
    cordoned = api.client.post("/api/v1/edge/nodes/l-c/cordon")
    assert cordoned.status_code == 200, cordoned.text
    listed = api.client.get("/api/v1/edge/nodes", params={"limit": 2})
    assert listed.status_code == 200, listed.text
    first = listed.json()
    assert first["apiVersion"] == "edgeorch.io/v1" and first["kind"] == "NodeList"
    second = api.client.get(
        "/api/v1/edge/nodes", params={"limit": 2, "continue": first["metadata"]["continue"]}
    ).json()
    assert second["metadata"]["continue"] is None
    items = first["items"] + second["items"]
    fetched = [api.client.get(f"/api/v1/edge/nodes/{n['metadata']['id']}").json() for n in posted]
    assert items == fetched
    assert items[:2] == posted[:2]  # l-c changed since (cordoned)
    assert items[2]["spec"]["scheduling"] == "cordoned"
    by_label = api.client.get("/api/v1/edge/nodes", params={"label_selector": "rack=r1"}).json()
    assert by_label["items"] == [fetched[1]]
