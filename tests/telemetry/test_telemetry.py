"""Histograms, the agent's collector, and the server's recorder writing real rows."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from edgeorch.schemas.instance import InstanceSpec
from edgeorch.schemas.node import NodeCreate, Utilization
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import Database, create_instance, create_node, create_workload
from edgeorch.store.sql.telemetry import read_node_usage, request_totals
from edgeorch.telemetry.collector import RequestCollector
from edgeorch.telemetry.histogram import BOUNDS_MS, BUCKETS, bucket_index, merge, quantile
from edgeorch.telemetry.model import RequestStats
from edgeorch.telemetry.recorder import TelemetryRecorder, TelemetrySettings, bucket_start


def counts(**at: int) -> list[int]:
    out = [0] * BUCKETS
    for key, n in at.items():
        out[int(key.removeprefix("b"))] = n
    return out


@pytest.mark.parametrize(
    ("latency", "index"),
    [(0.0, 0), (1.0, 0), (1.01, 1), (100.0, 7), (100.5, 8), (10_000.0, 14), (10_001.0, 15)],
)
def test_bucket_bounds_are_inclusive_upper_bounds(latency: float, index: int) -> None:
    assert bucket_index(latency) == index


@pytest.mark.parametrize(
    ("histogram", "q", "expected", "overflow"),
    [
        (counts(b7=100), 0.5, 87.5, False),  # (75, 100]: halfway
        (counts(b7=100), 0.95, 98.75, False),
        (counts(b0=50, b7=50), 0.5, 1.0, False),  # rank 50 is the last of bucket 0
        (counts(b0=50, b7=50), 0.75, 87.5, False),
        (counts(b15=10), 0.5, 10_000.0, True),
    ],
)
def test_quantile_interpolates_linearly_inside_the_bucket(
    histogram: list[int], q: float, expected: float, overflow: bool
) -> None:
    found = quantile(histogram, q)
    assert found is not None
    assert found.value_ms == pytest.approx(expected)
    assert found.overflow is overflow


def test_quantile_of_nothing_is_none_and_merge_adds() -> None:
    assert quantile([0] * BUCKETS, 0.5) is None
    assert merge([counts(b1=2), counts(b1=3, b4=1)]) == counts(b1=5, b4=1)
    with pytest.raises(ValueError, match="outside"):
        quantile(counts(b1=1), 0.0)


def test_request_stats_must_add_up() -> None:
    with pytest.raises(ValidationError, match="buckets count 2"):
        RequestStats(
            instance_id="i",
            workload="w",
            requests=3,
            errors=0,
            latency_sum_ms=1,
            buckets=counts(b1=2),
        )
    with pytest.raises(ValidationError, match="errors"):
        RequestStats(
            instance_id="i",
            workload="w",
            requests=1,
            errors=2,
            latency_sum_ms=1,
            buckets=counts(b1=1),
        )


def test_collector_drains_once_and_restores_what_was_not_delivered() -> None:
    c = RequestCollector()
    for ms in (0.5, 3.0, 120.0):
        c.observe("i1", "web", ms, error=ms > 100)
    c.observe("i2", "api", 7.0, error=False)
    first = c.drain()
    assert [(s.instance_id, s.requests, s.errors) for s in first] == [("i1", 3, 1), ("i2", 1, 0)]
    assert first[0].buckets == counts(b0=1, b2=1, b8=1)
    assert c.drain() == []
    c.restore(first)
    c.observe("i1", "web", 0.2, error=False)
    again = {s.instance_id: s for s in c.drain()}
    assert again["i1"].requests == 4 and again["i1"].buckets == counts(b0=2, b2=1, b8=1)
    assert again["i2"].requests == 1


def _setup(database: Database) -> tuple[object, object, object]:
    with database.write() as s:
        node = create_node(
            session=s,
            node=NodeCreate.model_validate(
                {
                    "metadata": {"name": "n1"},
                    "spec": {
                        "edge_type": "mec",
                        "region": "eu-west",
                        "location": {"latitude": 48.85, "longitude": 2.35},
                        "country": "FR",
                        "capacity": {"cpu": 8, "memory_mb": 16384},
                        "cost_per_hour": 1.0,
                    },
                }
            ),
        )
        workload = create_workload(
            session=s,
            workload=WorkloadCreate.model_validate(
                {
                    "metadata": {"name": "web"},
                    "spec": {"runtime": "wasm", "artifact": {"digest": "sha256:" + "a" * 64}},
                }
            ),
        )
        instance = create_instance(
            session=s,
            spec=InstanceSpec(
                workload_id=workload.metadata.id, node_id=node.metadata.id, replica=0
            ),
        )
    return node, workload, instance


def test_recorder_buffers_heartbeats_and_flushes_rows(database: Database) -> None:
    node, workload, instance = _setup(database)
    ticks = [0.0]
    recorder = TelemetryRecorder(
        TelemetrySettings(bucket_seconds=10, usage_seconds=60, flush_seconds=5),
        monotonic=lambda: ticks[0],
    )
    start = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    stats = RequestStats(
        instance_id=instance.metadata.id,  # type: ignore[attr-defined]
        workload="web",
        requests=4,
        errors=1,
        latency_sum_ms=200.0,
        buckets=counts(b3=2, b8=2),
    )
    stranger = stats.model_copy(update={"instance_id": "not-bound-here"})
    bound = {instance.metadata.id: instance}  # type: ignore[attr-defined]
    for i in range(3):  # three beats in the first minute, cpu 0.2, 0.4, 0.6
        recorder.heartbeat(
            node=node,  # type: ignore[arg-type]
            utilization=Utilization(cpu=0.2 * (i + 1), memory=0.5),
            stats=[stats, stranger],
            bound=bound,  # type: ignore[arg-type]
            now=start + timedelta(seconds=5 * i),
        )
    assert recorder.maybe_flush(database, start + timedelta(seconds=15)) == 0  # not due
    ticks[0] = 6.0
    assert recorder.maybe_flush(database, start + timedelta(seconds=15)) == 2  # two 10 s buckets
    ticks[0] = 12.0
    # The minute is over: its mean utilization is written as one row.
    assert recorder.flush(database, start + timedelta(seconds=61)) == 1
    with database.session() as s:
        totals = request_totals(
            session=s, since=start, until=start + timedelta(minutes=1), by="workload"
        )
        usage = read_node_usage(session=s, since=start, until=start + timedelta(minutes=2))
    assert len(totals) == 1 and totals[0].key[1] == workload.metadata.id  # type: ignore[attr-defined]
    assert (totals[0].requests, totals[0].errors) == (12, 3)
    assert list(totals[0].buckets) == counts(b3=6, b8=6)
    assert [(u.region, u.samples, round(u.cpu, 6), u.cpu_capacity) for u in usage] == [
        ("eu-west", 3, 0.4, 8.0)
    ]


def test_bucket_start_aligns_on_the_epoch() -> None:
    at = datetime(2025, 1, 1, 12, 0, 17, tzinfo=UTC)
    assert bucket_start(at, 10) == datetime(2025, 1, 1, 12, 0, 10, tzinfo=UTC)
    assert bucket_start(at, 60) == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="EDGEORCH_TELEMETRY_FLUSH_SECONDS"):
        TelemetrySettings.from_env({"EDGEORCH_TELEMETRY_FLUSH_SECONDS": "soon"})
    assert TelemetrySettings.from_env({}).bucket_seconds == 10
    assert len(BOUNDS_MS) == BUCKETS - 1
