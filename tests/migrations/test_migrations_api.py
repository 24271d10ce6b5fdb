"""``/api/v1/migrations``: requests, refusals, listing; on both store backends."""

from typing import Any

from tests.api.conftest import Api
from tests.api.test_placement import _ready_fleet

from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.instance import InstanceSpec, InstanceStatus
from edgeorch.store import create_instance

WASM = {"runtime": "wasm", "artifact": {"digest": "sha256:" + "ab" * 32}, "replicas": 1}
PROCESS = {"runtime": "process", "artifact": {"command": ["sleep", "60"]}, "replicas": 1}


def _instance(api: Api, name: str, spec: dict[str, Any], node_id: str) -> str:
    created = api.client.post("/api/v1/workloads", json=api.workload(name, **spec)).json()
    with api.database.write() as session:
        inst = create_instance(
            session=session,
            spec=InstanceSpec(workload_id=created["metadata"]["id"], node_id=node_id, replica=0),
            status=InstanceStatus(state=InstanceState.RUNNING),
        )
    return inst.metadata.id


def test_a_migration_is_recorded_with_an_automatic_target_and_listed(api: Api) -> None:
    ids = _ready_fleet(api)
    instance_id = _instance(api, "svc", PROCESS, ids["nyc"])
    answer = api.client.post(
        "/api/v1/migrations", json={"instance": instance_id, "type": "cold", "reason": "test"}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["kind"] == "Migration" and body["status"]["state"] == "pending"
    assert body["spec"]["automatic"] and body["spec"]["target_node_id"] != ids["nyc"]
    assert body["spec"]["max_downtime_ms"] == 300
    listed = api.client.get("/api/v1/migrations?state=pending").json()
    assert [m["metadata"]["id"] for m in listed["items"]] == [body["metadata"]["id"]]
    again = api.client.post("/api/v1/migrations", json={"instance": instance_id, "type": "cold"})
    assert again.status_code == 409 and "already being migrated" in again.json()["detail"]
    shown = api.client.get(f"/api/v1/migrations/{body['metadata']['id'][:8]}").json()
    assert shown["metadata"]["id"] == body["metadata"]["id"]


def test_refusals_say_why_and_what_is_accepted(api: Api) -> None:
    ids = _ready_fleet(api)
    process = _instance(api, "proc", PROCESS, ids["nyc"])
    wasm = _instance(api, "mod", WASM, ids["nyc"])
    cases = [
        ({"instance": process, "type": "live"}, 422, "use 'cold'"),
        ({"instance": wasm, "target_node": ids["nyc"]}, 422, "already runs on node"),
        ({"instance": wasm, "max_downtime": "soon"}, 422, "duration"),
        ({"instance": wasm, "type": "teleport"}, 422, "live"),
        ({"instance": "nope"}, 404, "nope"),
    ]
    for body, status, text in cases:
        answer = api.client.post("/api/v1/migrations", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert text in answer.text, (body, answer.text)
