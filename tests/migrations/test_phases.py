"""The migration phase machine (pure, fake clock), the reconciler's respect for migrations, and
the hand-off frames."""

from datetime import timedelta

import numpy as np
import pytest
from tests.controllers.builders import T0, instance, meta, workload

from edgeorch.agent.migrate import CHUNK, Baseline, Frame, FrameInvalid, decode_frame, encode_frame
from edgeorch.agent.migrate import _dirty as dirty
from edgeorch.controllers.migrations import NodeFacts, Step, World, report_status, step
from edgeorch.controllers.reconcile import MIGRATING, MIGRATION, NodeView, reconcile_workload
from edgeorch.domain.enums import InstanceState, NodeScheduling, NodeState
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.migration import (
    Migration,
    MigrationReport,
    MigrationSpec,
    MigrationStatus,
    parse_duration_ms,
)

TIMEOUT = 30.0
A, B = NodeFacts("a", NodeState.READY), NodeFacts("b", NodeState.READY)


def migration(kind: str = "live", status: MigrationStatus | None = None) -> Migration:
    spec = MigrationSpec(
        instance_id="src", instance_name="src", workload_id="w", workload_name="w",
        runtime="wasm", source_node_id="a", target_node_id="b", type=kind, max_downtime_ms=50,
    )  # fmt: skip
    return Migration(metadata=meta("m"), spec=spec, status=status or MigrationStatus())


def advance(m: Migration, s: Step, target: str | None = None) -> Migration:
    assert s.status is not None
    status = s.status
    if s.create_target:
        status = status.model_copy(update={"target_instance_id": target or "tgt"})
    return m.model_copy(update={"status": status})


def world(
    source: Instance | None = None, target: Instance | None = None, **nodes: NodeFacts
) -> World:
    src = source if source is not None else instance("src", "a")
    return World(src, target, nodes.get("source_node", A), nodes.get("target_node", B))


def test_live_phases_and_progress_follow_the_brochure() -> None:
    m = migration()
    first = step(m, world(), T0, TIMEOUT)
    assert first.create_target and first.source is not None and first.source.marker == "set"
    m = advance(m, first)
    assert (m.status.state, m.status.phase, m.status.progress) == ("running", "snapshot", 10)
    assert [e[0] for e in first.events] == ["MigrationStarted"]
    target = instance("tgt", "b", state=InstanceState.STARTING, replaces="src", reason=MIGRATION)
    assert step(m, world(target=target), T0 + timedelta(seconds=1), TIMEOUT) == Step()
    later = T0 + timedelta(seconds=2)
    transfer = report_status(m, MigrationReport(event="transfer", bytes_transferred=10), later)
    assert transfer is not None and (transfer.phase, transfer.progress) == ("transfer", 30)
    m = m.model_copy(update={"status": transfer})
    switched = report_status(m, MigrationReport(event="switched", downtime_ms=12.5), later)
    assert switched is not None and (switched.phase, switched.progress) == ("switchover", 70)
    assert report_status(m.model_copy(update={"status": switched}), MigrationReport(
        event="switched"), later) is None  # fmt: skip  # a repeat changes nothing
    m = m.model_copy(update={"status": switched})
    cleanup = step(m, world(target=target), later, TIMEOUT)
    assert cleanup.source is not None and cleanup.source.desired_state == "stopped"
    assert cleanup.source.marker == "clear"
    m = advance(m, cleanup)
    assert (m.status.phase, m.status.progress) == ("cleanup", 90)
    assert step(m, world(target=target), later, TIMEOUT) == Step()  # source still running
    gone = instance("src", "a", desired="stopped", state=InstanceState.STOPPED)
    done = advance(m, step(m, world(source=gone, target=target), later, TIMEOUT))
    assert (done.status.state, done.status.progress, done.status.downtime_ms) == (
        "succeeded", 100, 12.5,
    )  # fmt: skip
    assert set(done.status.phases) == {"pre_checks", "snapshot", "transfer", "switchover",
                                       "cleanup"}  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change"),
    [
        ("timeout", {"now": T0 + timedelta(seconds=TIMEOUT + 1)}),
        ("target node down", {"target_node": NodeFacts("b", NodeState.DOWN)}),
        ("source node suspect", {"source_node": NodeFacts("a", NodeState.SUSPECT)}),
        ("target failed", {"target_state": InstanceState.FAILED}),
    ],
)
def test_failures_before_the_switch_roll_back(case: str, change: dict[str, object]) -> None:
    m = advance(migration(), step(migration(), world(), T0, TIMEOUT))
    state = change.get("target_state", InstanceState.STARTING)
    assert isinstance(state, InstanceState)
    target = instance("tgt", "b", state=state, replaces="src", reason=MIGRATION)
    nodes = {k: v for k, v in change.items() if k.endswith("_node")}
    now = change.get("now", T0 + timedelta(seconds=1))
    s = step(m, world(target=target, **nodes), now, TIMEOUT)  # type: ignore[arg-type]
    assert s.status is not None and s.status.state == "rolled_back", case
    assert s.target is not None and s.target.desired_state == "stopped"
    assert s.source is not None and s.source.marker == "clear" and s.source.desired_state is None
    assert s.events[0][0] == "MigrationRolledBack" and s.events[0][2] == "Warning"


def test_an_agent_failure_report_rolls_back() -> None:
    m = advance(migration(), step(migration(), world(), T0, TIMEOUT))
    failed = report_status(m, MigrationReport(event="failed", message="target gone"), T0)
    assert failed is not None
    target = instance("tgt", "b", state=InstanceState.STARTING)
    s = step(m.model_copy(update={"status": failed}), world(target=target), T0, TIMEOUT)
    assert s.status is not None and s.status.state == "rolled_back"
    assert "target gone" in (s.status.error or "")


def test_pre_checks_fail_without_touching_anything() -> None:
    cordoned = NodeFacts("b", NodeState.READY, NodeScheduling.CORDONED)
    s = step(migration(), world(target_node=cordoned), T0, TIMEOUT)
    assert s.status is not None and s.status.state == "failed"
    assert not s.create_target and s.source is None and "cordoned" in (s.status.error or "")


def test_cold_stops_first_then_starts_the_target_and_rolls_back_by_restarting() -> None:
    m = migration("cold")
    first = step(m, world(), T0, TIMEOUT)
    assert not first.create_target and first.source is not None
    assert first.source.desired_state == "stopped" and first.source.marker == "set"
    m = advance(m, first)
    stopping = instance("src", "a", desired="stopped", state=InstanceState.RUNNING)
    assert step(m, world(source=stopping), T0, TIMEOUT) == Step()  # waits for the stop
    stopped = instance("src", "a", desired="stopped", state=InstanceState.STOPPED)
    second = step(m, world(source=stopped), T0 + timedelta(milliseconds=100), TIMEOUT)
    assert second.create_target
    m = advance(m, second)
    target = instance("tgt", "b", replaces="src", reason=MIGRATION)
    third = step(m, world(source=stopped, target=target), T0 + timedelta(milliseconds=400),
                 TIMEOUT)  # fmt: skip
    assert third.status is not None and third.status.downtime_ms == pytest.approx(400)
    failed = instance("tgt", "b", state=InstanceState.FAILED, replaces="src", reason=MIGRATION)
    back = step(m, world(source=stopped, target=failed), T0, TIMEOUT)
    assert back.source is not None and back.source.desired_state == "running"


def test_the_reconciler_counts_a_migrating_pair_once_and_never_stops_the_source() -> None:
    views = {"a": NodeView("a", NodeState.READY), "b": NodeView("b", NodeState.READY)}
    source = instance("src", "a")
    source = source.model_copy(
        update={"metadata": source.metadata.model_copy(update={"labels": {MIGRATING: "m"}})}
    )
    target = instance("tgt", "b", state=InstanceState.STARTING, replaces="src", reason=MIGRATION)
    b = reconcile_workload(workload(1), [source, target], views, T0)
    assert not b.place and not b.stop and not b.delete
    # Cold: the source is stopped and still counts, so nothing is placed meanwhile.
    stopped = source.model_copy(
        update={"spec": source.spec.model_copy(update={"desired_state": "stopped"})}
    )
    b = reconcile_workload(workload(1), [stopped], views, T0)
    assert not b.place and not b.delete


def test_frames_round_trip_and_only_dirty_chunks_travel() -> None:
    frame = Frame(
        digest="sha256:" + "ab" * 32, final=True,
        globals=[("count", "i32", 7), ("f", "f64", 1.5)],
        memories=[("memory", 2, [(0, b"x" * 10), (CHUNK, b"y" * 5)])],
    )  # fmt: skip
    assert decode_frame(encode_frame(frame)) == frame
    with pytest.raises(FrameInvalid):
        decode_frame(encode_frame(frame)[:-1])
    base = np.zeros(65536 * 2, dtype=np.uint8)
    live = base.copy()
    live[5] = 1
    live[CHUNK * 3 + 7] = 2
    live[CHUNK * 4] = 3
    chunks = dirty(live, base)
    assert [(offset, len(data)) for offset, data in chunks] == [(0, CHUNK), (CHUNK * 3, CHUNK * 2)]
    baseline = Baseline()
    baseline.commit(Frame("sha256:" + "00" * 32, False, [], [("memory", 2, chunks)]))
    assert bytes(baseline.memories["memory"][: CHUNK * 5]) == live[: CHUNK * 5].tobytes()


@pytest.mark.parametrize(
    ("text", "ms"),
    [("50ms", 50.0), ("5s", 5000.0), ("1.5s", 1500.0), ("2m", 120000.0), (0.3, 300.0)],
)
def test_durations(text: str | float, ms: float) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("bad", ["", "fast", "-5ms", "0s", 0])
def test_bad_durations_say_what_is_accepted(bad: str | float) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_ms(bad)
