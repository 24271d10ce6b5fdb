"""Workloads through the API: deploy, read, update, scale, remove, with events."""

from tests.api.conftest import Api


def test_create_read_scale_delete(api: Api) -> None:
    created = api.client.post("/api/v1/workloads", json=api.workload("web", replicas=2))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"]["desired_replicas"] == 2
    scaled = api.client.put("/api/v1/workloads/web/scale", json={"replicas": 5})
    assert scaled.status_code == 200, scaled.text
    assert scaled.json()["status"]["desired_replicas"] == 5
    stale = api.client.put(
        "/api/v1/workloads/web/scale",
        json={"replicas": 1, "resource_version": body["metadata"]["resource_version"]},
    )
    assert stale.status_code == 409
    assert api.client.delete(f"/api/v1/workloads/{body['metadata']['id'][:8]}").status_code == 200
    assert api.client.get("/api/v1/workloads/web").status_code == 404
    reasons = [e["reason"] for e in api.client.get("/api/v1/events?kind=Workload").json()["items"]]
    assert reasons == ["WorkloadCreated", "WorkloadScaled", "WorkloadDeleted"]


def test_update_bumps_generation_and_checks_version(api: Api) -> None:
    body = api.client.post("/api/v1/workloads", json=api.workload("upd")).json()
    doc = api.workload("upd", artifact={"command": ["sleep", "120"]})
    doc["metadata"]["resource_version"] = body["metadata"]["resource_version"]
    updated = api.client.put("/api/v1/workloads/upd", json=doc)
    assert updated.status_code == 200, updated.text
    assert updated.json()["status"]["generation"] == body["status"]["generation"] + 1
    again = api.client.put("/api/v1/workloads/upd", json=doc)
    assert again.status_code == 409


def test_scale_respects_singleton_and_autoscaling_bounds(api: Api) -> None:
    api.client.post("/api/v1/workloads", json=api.workload("one", singleton=True))
    refused = api.client.put("/api/v1/workloads/one/scale", json={"replicas": 2})
    assert refused.status_code in (409, 422), refused.text
    assert "singleton" in refused.text
    api.client.post("/api/v1/workloads", json=api.workload("auto", scaling={"min": 1, "max": 3}))
    out_of_range = api.client.put("/api/v1/workloads/auto/scale", json={"replicas": 9})
    assert out_of_range.status_code in (409, 422), out_of_range.text
    assert "3" in out_of_range.text


def test_list_by_runtime_and_instances_endpoint(api: Api) -> None:
    api.client.post("/api/v1/workloads", json=api.workload("p1"))
    digest = "sha256:" + "ab" * 32
    api.client.post(
        "/api/v1/workloads", json=api.workload("w1", runtime="wasm", artifact={"digest": digest})
    )
    names = [
        w["metadata"]["name"]
        for w in api.client.get("/api/v1/workloads?runtime=wasm").json()["items"]
    ]
    assert names == ["w1"]
    instances = api.client.get("/api/v1/instances?workload=p1")
    assert instances.status_code == 200
    assert instances.json()["items"] == []


def test_list_items_are_exactly_what_get_and_post_answer(api: Api) -> None:
    posted = [
        api.client.post("/api/v1/workloads", json=api.workload(name, replicas=n)).json()
        for name, n in (("lw-a", 1), ("lw-b", 3))
    ]
    listed = api.client.get("/api/v1/workloads")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["kind"] == "WorkloadList" and body["metadata"]["continue"] is None
    fetched = [api.client.get(f"/api/v1/workloads/{w['metadata']['id']}").json() for w in posted]
    assert body["items"] == fetched
    assert [w["metadata"]["name"] for w in posted] == ["lw-a", "lw-b"]
