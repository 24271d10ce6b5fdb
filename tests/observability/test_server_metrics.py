"""``GET /metrics`` of a server with nodes, heartbeats, instances and placements: the values are
right, promtool accepts the exposition, and only fleet-wide read tokens may scrape it."""

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from tests.api.conftest import Api, api
from tests.conftest import FakeClock
from tests.observability.promtool import check_metrics

from edgeorch.api import create_app
from edgeorch.domain.enums import InstanceState
from edgeorch.observability.metrics import REGISTRY
from edgeorch.placement import PlacementRequest, place_batch
from edgeorch.schemas.instance import InstanceSpec, InstanceStatus
from edgeorch.schemas.workload import WorkloadSpec
from edgeorch.store import create_instance

__all__ = ["api"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def join(api: Api, name: str) -> tuple[str, TestClient]:
    """Join ``name`` as an agent; returns its node id and a client holding its credential."""
    secret = api.client.post("/api/v1/tokens", json={"role": "join"}).json()["secret"]
    body = {
        "name": name,
        "measured": {"arch": "x86_64", "capacity": {"cpu": 16, "memory_mb": 65536}},
    }
    answer = api.as_token(secret).post("/api/v1/agent/join", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["node_id"], api.as_token(answer.json()["credential"])


def heartbeat(agent: TestClient, node_id: str, **utilization: float) -> None:
    answer = agent.post(
        f"/api/v1/agent/nodes/{node_id}/heartbeat", json={"utilization": utilization}
    )
    assert answer.status_code == 200, answer.text


def build_fleet(api: Api, clock: FakeClock) -> dict[str, Any]:
    """Three nodes in eu-central (two heartbeating), one pending in us-west, instances, and
    placements: one dry run that fits and one real one blocked by residency."""
    for name in ("fra-1", "fra-2", "fra-3"):
        assert api.client.post("/api/v1/edge/nodes", json=api.node(name)).status_code == 201
    west = api.node("sfo-1", region="us-west", country="US")
    west["spec"]["location"] = {"latitude": 37.77, "longitude": -122.42}
    assert api.client.post("/api/v1/edge/nodes", json=west).status_code == 201
    fra1, agent1 = join(api, "fra-1")
    fra2, agent2 = join(api, "fra-2")
    heartbeat(agent1, fra1, cpu=0.5, memory=0.25)
    heartbeat(agent2, fra2, cpu=0.1)
    clock.advance(timedelta(seconds=4))
    heartbeat(agent1, fra1, cpu=0.75, memory=0.25, storage=0.125)
    clock.advance(timedelta(seconds=2))

    workload = api.client.post("/api/v1/workloads", json=api.workload("web", replicas=2))
    assert workload.status_code == 201, workload.text
    workload_id = workload.json()["metadata"]["id"]
    with api.database.write() as session:
        for replica, (node, state) in enumerate(
            [
                (fra1, InstanceState.RUNNING),
                (fra2, InstanceState.RUNNING),
                (fra2, InstanceState.FAILED),
            ]
        ):
            create_instance(
                session=session,
                spec=InstanceSpec(workload_id=workload_id, node_id=node, replica=replica),
                status=InstanceStatus(state=state),
            )
    analyzed = api.client.post("/api/v1/placement/analyze", json={"workload": "web", "replicas": 1})
    assert analyzed.status_code == 200, analyzed.text
    app: Any = api.client.app
    view = app.state.fleet.view()
    japan = WorkloadSpec.model_validate(
        {
            "runtime": "process",
            "artifact": {"command": ["true"]},
            "replicas": 1,
            "placement": {"residency": {"countries": ["JP"]}},
        }
    )
    batch = place_batch(view.snapshot.fork(), [PlacementRequest(japan, "w-jp", 1, request_id="r")])
    assert batch.decisions[0].blocking == ("residency",)
    return {"fra1": fra1, "fra2": fra2}


def test_scrape_counts_the_fleet_and_passes_promtool(api: Api, clock: FakeClock) -> None:
    before = {
        "lag": counter("edgeorch_heartbeat_lag_seconds_count"),
        "lag_sum": counter("edgeorch_heartbeat_lag_seconds_sum"),
        "residency": counter("edgeorch_unplaceable_total", reason="residency"),
        "unplaceable": counter(
            "edgeorch_placement_decisions_total", mode="place", result="unplaceable"
        ),
        "dry": counter("edgeorch_placement_decisions_total", mode="dry_run", result="placed"),
    }
    ids = build_fleet(api, clock)

    answer = api.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    check_metrics(answer.content)
    found = samples(answer.text)

    assert value(found, "edgeorch_nodes", state="ready", region="eu-central") == 2
    assert value(found, "edgeorch_nodes", state="pending", region="eu-central") == 1
    assert value(found, "edgeorch_nodes", state="pending", region="us-west") == 1
    assert value(found, "edgeorch_nodes", state="down", region="us-west") == 0
    assert value(found, "edgeorch_instances", state="running") == 2
    assert value(found, "edgeorch_instances", state="failed") == 1
    assert value(found, "edgeorch_instances", state="lost") == 0
    util = "edgeorch_node_utilization_ratio"
    fra1 = {"node": "fra-1", "node_id": ids["fra1"], "region": "eu-central"}
    assert value(found, util, **fra1, resource="cpu") == 0.75
    assert value(found, util, **fra1, resource="storage") == 0.125
    assert (
        value(found, util, node="fra-2", node_id=ids["fra2"], region="eu-central", resource="cpu")
        == 0.1
    )
    assert not [k for k in found if k[0] == util and ("node", "fra-3") in k[1]]  # never heard
    # fra-2 last beat 6 s ago (fake clock), fra-1 2 s ago.
    assert value(found, "edgeorch_heartbeat_silence_max_seconds") == 6.0
    # No controller ran: the workload's status still says 0 of its 2 replicas are placed.
    assert value(found, "edgeorch_unplaced_replicas") == 2

    assert counter("edgeorch_heartbeat_lag_seconds_count") - before["lag"] == 1
    assert counter("edgeorch_heartbeat_lag_seconds_sum") - before["lag_sum"] == 4.0
    assert counter("edgeorch_unplaceable_total", reason="residency") - before["residency"] == 1
    unplaceable = counter("edgeorch_placement_decisions_total", mode="place", result="unplaceable")
    assert unplaceable - before["unplaceable"] == 1
    dry = counter("edgeorch_placement_decisions_total", mode="dry_run", result="placed")
    assert dry - before["dry"] == 1
    assert value(found, "edgeorch_placement_decision_seconds_count", mode="place") is not None
    assert value(found, "edgeorch_build_info", version=found_version(found)) == 1


def found_version(found: Samples) -> str:
    return next(dict(k[1])["version"] for k in found if k[0] == "edgeorch_build_info")


def test_request_latency_is_labelled_by_route_template(api: Api) -> None:
    node = api.client.post("/api/v1/edge/nodes", json=api.node("lis-1")).json()
    node_id = node["metadata"]["id"]
    assert api.client.get(f"/api/v1/edge/nodes/{node_id}").status_code == 200
    assert api.client.get("/api/v1/edge/nodes/no-such-node").status_code == 404
    assert api.client.get("/no/such/route").status_code == 404
    text = api.client.get("/metrics").text
    check_metrics(text.encode())
    found = samples(text)
    name = "edgeorch_http_request_duration_seconds_count"
    template = {"method": "GET", "route": "/api/v1/edge/nodes/{ref}"}
    assert value(found, name, **template, status="200")
    assert value(found, name, **template, status="404")
    assert value(found, name, method="GET", route="unmatched", status="404")
    assert value(found, name, method="POST", route="/api/v1/edge/nodes", status="201")
    assert node_id not in text and "no-such-node" not in text


def test_metrics_need_a_fleet_wide_read_token(api: Api) -> None:
    assert api.as_token(None).get("/metrics").status_code == 401
    assert api.as_token("bogus").get("/metrics").status_code == 401
    reader = api.client.post("/api/v1/tokens", json={"role": "reader", "name": "prometheus"})
    assert api.as_token(reader.json()["secret"]).get("/metrics").status_code == 200
    tenant = {"kind": "Tenant", "metadata": {"name": "acme"}}
    assert api.client.post("/api/v1/tenants", json=tenant).status_code == 201
    acme = api.client.post("/api/v1/tokens", json={"role": "admin", "tenant": "acme"})
    refused = api.as_token(acme.json()["secret"]).get("/metrics")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "'acme'" in refused.json()["detail"] and "'default'" in refused.json()["detail"]
    join = api.client.post("/api/v1/tokens", json={"role": "join"}).json()["secret"]
    assert api.as_token(join).get("/metrics").status_code == 403


def test_openmetrics_when_asked(api: Api, clock: FakeClock) -> None:
    build_fleet(api, clock)
    answer = api.client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n") and answer.text.count("# EOF") == 1
    families = {f.name: f for f in openmetrics_families(answer.text)}  # strict parser
    utilization = families["edgeorch_node_utilization_ratio"]
    assert utilization.type == "gauge" and len(utilization.samples) == 8  # 2 ready nodes x 4


def test_two_apps_in_one_process_scrape_without_duplicates(api: Api) -> None:
    other = create_app(api.database, api.client.app.state.settings)  # type: ignore[attr-defined]
    with TestClient(other, headers={"Authorization": f"Bearer {api.admin_token}"}) as client:
        first, second = client.get("/metrics"), api.client.get("/metrics")
    assert first.status_code == second.status_code == 200
    check_metrics(first.content)
    check_metrics(second.content)
