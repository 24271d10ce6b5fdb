"""Every endpoint but the health checks needs a token; roles and tenants confine what it may do."""

import pytest
from tests.api.conftest import Api


def test_health_needs_no_token(api: Api) -> None:
    anonymous = api.as_token(None)
    assert anonymous.get("/healthz").json()["status"] == "ok"
    assert anonymous.get("/readyz").json()["status"] == "ready"


ENDPOINTS = [
    ("GET", "/api/v1/edge/nodes"),
    ("POST", "/api/v1/edge/nodes"),
    ("GET", "/api/v1/edge/nodes/x"),
    ("DELETE", "/api/v1/edge/nodes/x"),
    ("PUT", "/api/v1/edge/nodes/x/config"),
    ("GET", "/api/v1/workloads"),
    ("PUT", "/api/v1/workloads/x/scale"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/instances"),
    ("GET", "/api/v1/tokens"),
    ("GET", "/api/v1/tenants"),
    ("POST", "/api/v1/apply"),
]


@pytest.mark.parametrize("header", [None, "Bearer eo_wrong", "Basic abc", "Bearer "])
def test_everything_else_needs_a_valid_token(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    anonymous = api.as_token(None)
    for method, path in ENDPOINTS:
        response = anonymous.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")


def _token(api: Api, **body: object) -> str:
    response = api.client.post("/api/v1/tokens", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def test_roles(api: Api) -> None:
    reader = api.as_token(_token(api, role="reader"))
    operator = api.as_token(_token(api, role="operator"))
    join = api.as_token(_token(api, role="join"))
    assert reader.get("/api/v1/edge/nodes").status_code == 200
    assert reader.post("/api/v1/edge/nodes", json=api.node()).status_code == 403
    assert operator.post("/api/v1/edge/nodes", json=api.node()).status_code == 201
    assert operator.get("/api/v1/tokens").status_code == 403
    assert join.get("/api/v1/edge/nodes").status_code == 403


def test_token_secret_shown_once_and_revocation(api: Api) -> None:
    created = api.client.post("/api/v1/tokens", json={"role": "reader", "name": "ci"}).json()
    listed = api.client.get("/api/v1/tokens").json()
    assert all("secret" not in t for t in listed)
    assert created["secret"] not in str(listed)
    reader = api.as_token(created["secret"])
    assert reader.get("/api/v1/edge/nodes").status_code == 200
    assert api.client.delete(f"/api/v1/tokens/{created['id']}").status_code == 200
    assert reader.get("/api/v1/edge/nodes").status_code == 401


def test_join_token_expires_by_default(api: Api) -> None:
    created = api.client.post("/api/v1/tokens", json={"role": "join"}).json()
    assert created["expires_at"] is not None


def test_tenants_isolate_objects(api: Api) -> None:
    assert (
        api.client.post("/api/v1/tenants", json={"metadata": {"name": "acme"}}).status_code == 201
    )
    acme = api.as_token(_token(api, role="operator", tenant="acme"))
    api.client.post("/api/v1/edge/nodes", json=api.node("shared-name"))
    assert acme.post("/api/v1/edge/nodes", json=api.node("shared-name")).status_code == 201
    acme_names = [n["metadata"]["tenant"] for n in acme.get("/api/v1/edge/nodes").json()["items"]]
    assert acme_names == ["acme"]
    assert acme.get("/api/v1/edge/nodes?tenant=default").status_code == 403
    other = api.node("x")
    other["metadata"]["tenant"] = "default"
    assert acme.post("/api/v1/edge/nodes", json=other).status_code == 403
    everyone = api.client.get("/api/v1/edge/nodes").json()["items"]
    assert sorted(n["metadata"]["tenant"] for n in everyone) == ["acme", "default"]


def test_token_for_unknown_tenant_is_404(api: Api) -> None:
    response = api.client.post("/api/v1/tokens", json={"role": "reader", "tenant": "nope"})
    assert response.status_code == 404
