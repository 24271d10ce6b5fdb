"""The alert rules and engine over a real store, with a fake clock and recorded telemetry."""

from datetime import timedelta

import pytest
from tests.analytics import seed
from tests.conftest import FakeClock

from edgeorch.alerts.engine import AlertEngine
from edgeorch.alerts.settings import AlertSettings
from edgeorch.domain.enums import NodeState
from edgeorch.schemas.node import Utilization
from edgeorch.schemas.workload import WorkloadUpdate
from edgeorch.store import Database, list_events, update_workload
from edgeorch.store.sql.alerts import list_alerts

SETTINGS = AlertSettings(window=60, min_requests=20)


def engine(database: Database, clock: FakeClock) -> AlertEngine:
    return AlertEngine(database, SETTINGS, clock)


def states(database: Database) -> dict[str, str]:
    with database.session() as s:
        return {
            a.fingerprint.split(":")[0]: a.state for a in list_alerts(session=s, limit=1000).items
        }


@pytest.mark.parametrize(
    ("buckets", "errors", "expected"),
    [
        # p95 of 100 requests in (100, 150] ms: warning.
        (seed.histogram(b8=100), 0, {"ResponseTimeHigh": "firing"}),
        # 95 fast, 5 slow: p95 is still inside the fast bucket.
        (seed.histogram(b3=95, b10=5), 0, {}),
        # 6 % errors: critical; 5 % exactly is not over 5 %.
        (seed.histogram(b3=100), 6, {"ErrorRateHigh": "firing"}),
        (seed.histogram(b3=100), 5, {}),
        # Too few requests to judge, however slow and failing.
        (seed.histogram(b12=19), 19, {}),
    ],
)
def test_telemetry_rules(
    database: Database,
    clock: FakeClock,
    buckets: tuple[int, ...],
    errors: int,
    expected: dict[str, str],
) -> None:
    n = seed.node(database, "n1")
    w = seed.workload(database, "web")
    i = seed.instance(database, w, n)
    seed.requests(database, i, n, clock.now - timedelta(seconds=30), buckets, errors)
    engine(database, clock).evaluate_once()
    assert states(database) == expected


def test_slow_workload_fires_then_resolves_when_the_window_moves_on(
    database: Database, clock: FakeClock
) -> None:
    n = seed.node(database, "n1")
    w = seed.workload(database, "web")
    i = seed.instance(database, w, n)
    seed.requests(database, i, n, clock.now - timedelta(seconds=10), seed.histogram(b9=40))
    e = engine(database, clock)
    [fired] = e.evaluate_once()
    assert fired.state == "firing"
    assert fired.alert.severity == "warning" and fired.alert.threshold == 100.0
    assert 150 < fired.alert.value <= 250  # p95 inside (150, 250]
    assert e.evaluate_once() == []  # steady: no new transition, no write
    clock.advance(timedelta(seconds=61))  # the slow requests leave the window
    seed.requests(database, i, n, clock.now - timedelta(seconds=5), seed.histogram(b2=40))
    [resolved] = e.evaluate_once()
    assert resolved.state == "resolved" and resolved.alert.resolved_at == clock.now
    with database.session() as s:
        events = [ev.reason for ev in list_events(session=s, involved_id=w.metadata.id).items]
    assert events.count("AlertFiring") == 1 and events.count("AlertResolved") == 1


def test_node_down_fires_and_resolves(database: Database, clock: FakeClock) -> None:
    n = seed.node(database, "edge-1")
    e = engine(database, clock)
    assert e.evaluate_once() == []
    seed.set_node(database, n.metadata.id, NodeState.DOWN)
    [fired] = e.evaluate_once()
    assert (fired.alert.rule, fired.alert.severity, fired.alert.subject_name) == (
        "NodeDown",
        "critical",
        "edge-1",
    )
    clock.advance(timedelta(seconds=30))
    seed.set_node(database, n.metadata.id, NodeState.READY)
    [resolved] = e.evaluate_once()
    assert resolved.state == "resolved"
    assert resolved.alert.resolved_at - resolved.alert.started_at == timedelta(seconds=30)


def test_residency_violation_after_the_policy_changed(database: Database, clock: FakeClock) -> None:
    n = seed.node(database, "paris-1", city="paris")
    w = seed.workload(database, "records", placement={"residency": {"regulation": "GDPR"}})
    seed.instance(database, w, n)
    e = engine(database, clock)
    assert e.evaluate_once() == []  # France is in the EU
    spec = w.spec.model_dump(mode="json")
    spec["placement"]["residency"] = {"countries": ["DE"]}
    with database.write() as s:
        update_workload(
            session=s,
            ref=w.metadata.id,
            workload=WorkloadUpdate.model_validate({"metadata": {"name": "records"}, "spec": spec}),
        )
    [fired] = e.evaluate_once()
    assert fired.alert.rule == "ResidencyViolation" and fired.alert.severity == "critical"
    assert "FR" in fired.alert.summary and "DE" in fired.alert.summary


def test_sla_violation_from_modelled_latency(database: Database, clock: FakeClock) -> None:
    paris = seed.node(database, "paris-1", city="paris")
    users = [{"latitude": 40.71, "longitude": -74.0, "weight": 1}]  # New York
    far = seed.workload(database, "far", placement={"users": users, "max_latency_ms": 50})
    near = seed.workload(database, "near", placement={"users": users, "max_latency_ms": 200})
    seed.instance(database, far, paris)
    seed.instance(database, near, paris)
    [fired] = engine(database, clock).evaluate_once()
    assert fired.alert.rule == "SlaViolation" and fired.alert.subject_name == "far"
    assert 100 < fired.alert.value < 200  # ~5,800 km: ~122 ms round trip over fibre, + access


def test_region_capacity_over_threshold(database: Database, clock: FakeClock) -> None:
    seed.node(database, "a", cpu=8, utilization=Utilization(cpu=0.95, memory=0.2))
    seed.node(database, "b", cpu=8, utilization=Utilization(cpu=0.70, memory=0.2))
    assert engine(database, clock).evaluate_once() == []  # 82.5 % of the region's CPU
    seed.node(database, "c", cpu=16, utilization=Utilization(cpu=0.99, memory=0.2))
    [fired] = engine(database, clock).evaluate_once()
    assert fired.alert.subject_kind == "Region" and fired.alert.subject_name == "eu-west"
    assert fired.alert.value == pytest.approx((0.95 * 8 + 0.7 * 8 + 0.99 * 16) / 32)


def test_list_filters_and_pages(database: Database, clock: FakeClock) -> None:
    nodes = [seed.node(database, f"n{k}") for k in range(3)]
    for n in nodes:
        seed.set_node(database, n.metadata.id, NodeState.DOWN)
    engine(database, clock).evaluate_once()
    with database.session() as s:
        first = list_alerts(session=s, state="firing", severity="critical", limit=2)
        rest = list_alerts(session=s, limit=2, continue_token=first.continue_token)
        assert list_alerts(session=s, severity="warning").items == []
    assert len(first.items) == 2 and len(rest.items) == 1
    assert {a.subject_name for a in first.items + rest.items} == {"n0", "n1", "n2"}
