"""``POST /apply``: create-or-update from multi-document manifests, all or nothing."""

import yaml
from tests.api.conftest import Api


def _yaml(*docs: dict[str, object]) -> bytes:
    return yaml.safe_dump_all(docs).encode()


def _apply(api: Api, body: bytes, **params: str) -> tuple[int, dict[str, object]]:
    response = api.client.post(
        "/api/v1/apply", content=body, headers={"content-type": "application/yaml"}, params=params
    )
    return response.status_code, response.json()


def test_create_then_unchanged_then_configured(api: Api) -> None:
    docs = [api.node("a"), api.node("b"), api.workload("w")]
    status, result = _apply(api, _yaml(*docs))
    assert status == 200, result
    assert [i["action"] for i in result["items"]] == ["created"] * 3  # type: ignore[index]
    status, result = _apply(api, _yaml(*docs))
    assert [i["action"] for i in result["items"]] == ["unchanged"] * 3  # type: ignore[index]
    docs[1]["spec"]["cost_per_hour"] = 2.0  # type: ignore[index]
    status, result = _apply(api, _yaml(*docs))
    assert [i["action"] for i in result["items"]] == [  # type: ignore[index]
        "unchanged",
        "configured",
        "unchanged",
    ]
    assert api.client.get("/api/v1/edge/nodes/b").json()["spec"]["cost_per_hour"] == 2.0


def test_one_bad_document_applies_nothing(api: Api) -> None:
    bad = api.node("c")
    bad["spec"]["location"]["latitude"] = 200  # type: ignore[index]
    status, problem = _apply(api, _yaml(api.node("a"), bad))
    assert status == 422
    assert "document 2 (c)" in str(problem["errors"])
    assert api.client.get("/api/v1/edge/nodes").json()["items"] == []


def test_conflict_in_a_later_document_rolls_back_earlier_ones(api: Api) -> None:
    old = api.client.post("/api/v1/edge/nodes", json=api.node("exists")).json()
    newer = api.node("exists", cost_per_hour=2.0)
    api.client.put("/api/v1/edge/nodes/exists/config", json={"spec": newer["spec"]})
    stale = api.node("exists", cost_per_hour=3.0)
    stale["metadata"]["resource_version"] = old["metadata"]["resource_version"]  # type: ignore[index]
    status, _ = _apply(api, _yaml(api.node("new"), stale))
    assert status == 409
    assert api.client.get("/api/v1/edge/nodes/new").status_code == 404


def test_malformed_yaml_is_400_with_line(api: Api) -> None:
    status, problem = _apply(api, b"kind: Node\nmetadata: {name: [oops\n")
    assert status == 400
    assert "line" in str(problem["detail"])


def test_dry_run_writes_nothing(api: Api) -> None:
    status, result = _apply(api, _yaml(api.node("dry")), dry_run="true")
    assert status == 200
    assert result["dry_run"] is True
    assert api.client.get("/api/v1/edge/nodes/dry").status_code == 404


def test_json_list_manifest(api: Api) -> None:
    response = api.client.post("/api/v1/apply", json=[api.node("j1"), api.node("j2")])
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 2
