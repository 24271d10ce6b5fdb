"""A running fleet (a real server and a real agent process) scraped like Prometheus would: the
agent's ``/metrics`` on its ingress and the server's ``/metrics`` both pass promtool and count
what happened."""

import httpx
import wasmtime
from prometheus_client.parser import text_string_to_metric_families
from tests.agent.drivers.wasm_modules import COUNTER_WAT
from tests.agent.harness import Fleet, fleet, wait_for
from tests.observability.promtool import check_metrics

__all__ = ["fleet"]


def scrape(url: str, token: str | None = None) -> tuple[bytes, dict[tuple[str, tuple], float]]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(url, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return answer.content, found


def get(found: dict[tuple[str, tuple], float], name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def test_agent_and_server_metrics_of_a_running_fleet(fleet: Fleet) -> None:
    agent = fleet.agent("edge-m")
    agent.start()
    node_id = agent.node_id()
    digest = fleet.upload(wasmtime.wat2wasm(COUNTER_WAT))
    fleet.assign(node_id, "counter", {"runtime": "wasm", "artifact": {"digest": digest}})
    fleet.assign(
        node_id,
        "broken",
        {"runtime": "wasm", "artifact": {"digest": fleet.upload(b"\x00asm junk")}},
    )
    wait_for(lambda: httpx.get(f"{agent.ingress}/w/counter/", timeout=5).status_code == 200)
    for _ in range(3):
        assert httpx.get(f"{agent.ingress}/w/counter/x", timeout=5).status_code == 200
    assert httpx.get(f"{agent.ingress}/w/nobody-here/", timeout=5).status_code == 503

    def agent_ready() -> tuple[bytes, dict[tuple[str, tuple], float]] | None:
        body, found = scrape(f"{agent.ingress}/metrics")
        running = get(found, "edgeorch_agent_instances", state="running")
        beats = get(found, "edgeorch_agent_heartbeat_duration_seconds_count") or 0
        return (body, found) if running == 1 and beats >= 2 else None

    body, found = wait_for(agent_ready, 20, "the agent to run counter and heartbeat")
    check_metrics(body)
    assert get(found, "edgeorch_agent_instances", state="failed") == 1
    assert get(found, "edgeorch_agent_driver_start_seconds_count", runtime="wasm") == 1
    assert get(found, "edgeorch_agent_driver_start_failures_total", runtime="wasm") == 1
    served = get(
        found,
        "edgeorch_agent_ingress_request_duration_seconds_count",
        workload="counter",
        status="200",
    )
    assert served is not None and served >= 4
    assert get(found, "edgeorch_agent_ingress_unrouted_total") is not None
    assert not [k for k in found if ("workload", "nobody-here") in k[1]]
    polls = sum(v for k, v in found.items() if k[0] == "edgeorch_agent_assignment_polls_total")
    assert polls >= 1
    assert get(found, "edgeorch_agent_control_plane_reachable") == 1
    info = [k for k in found if k[0] == "edgeorch_agent_info"]
    assert info and ("node", "edge-m") in info[0][1] and ("node_id", node_id) in info[0][1]

    def server_counts() -> tuple[bytes, dict[tuple[str, tuple], float]] | None:
        body, found = scrape(f"{fleet.server.url}/metrics", fleet.server.admin_token)
        lag = get(found, "edgeorch_heartbeat_lag_seconds_count") or 0
        return (body, found) if lag >= 1 else None

    body, found = wait_for(server_counts, 20, "the server to see heartbeats")
    check_metrics(body)
    assert get(found, "edgeorch_nodes", state="ready", region="eu-central") == 1
    assert get(found, "edgeorch_instances", state="running") == 1
    cpu = get(
        found,
        "edgeorch_node_utilization_ratio",
        node="edge-m",
        node_id=node_id,
        region="eu-central",
        resource="cpu",
    )
    assert cpu is not None and 0.0 <= cpu <= 1.0
    heartbeat_route = "/api/v1/agent/nodes/{node_id}/heartbeat"
    assert get(
        found,
        "edgeorch_http_request_duration_seconds_count",
        method="POST",
        route=heartbeat_route,
        status="200",
    )
    assert httpx.get(f"{fleet.server.url}/metrics", timeout=5).status_code == 401
