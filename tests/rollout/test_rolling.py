"""Rolling updates as pure decisions: revisions, steps bounded by max_unavailable/max_surge,
health-gated progress, failure and rollback, and what agents are sent."""

from datetime import timedelta

import pytest
from tests.rollout.builders import T0, V1, V2, inst, workload

from edgeorch.controllers.reconcile import Buckets, NodeView, reconcile_workload
from edgeorch.controllers.rollout import (
    needs_rollback,
    observe_revision,
    previous_revision,
    rollout_events,
    spec_for_instance,
)
from edgeorch.domain.enums import InstanceState, NodeState
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.workload import RolloutStatus, Workload

NODES = {n: NodeView(n, NodeState.READY) for n in ("a", "b", "c", "d")}
NOW = T0 + timedelta(minutes=1)


def run(w: Workload, insts: list[Instance], now=NOW) -> Buckets:  # type: ignore[no-untyped-def]
    return reconcile_workload(w, insts, NODES, now)


def names(items: tuple[Instance, ...]) -> list[str]:
    return sorted(i.metadata.name for i in items)


def old_fleet(n: int = 3) -> list[Instance]:
    return [inst(f"old{i}", 1, replica=i, node="abc"[i % 3]) for i in range(n)]


def test_unchanged_template_is_not_a_rollout_and_keeps_instances() -> None:
    b = run(workload(V1), old_fleet())
    assert b.revision == 1 and not b.place and not b.stop and b.rollout is None


def test_scaling_is_not_a_template_change() -> None:
    b = run(workload(V1, replicas=4), old_fleet())
    assert b.revision == 1 and [p.reason for p in b.place] == ["missing"]


def test_first_pass_of_a_new_workload_records_revision_1() -> None:
    w = workload(V1, history=(), current=0)
    number, history = observe_revision(w, [], T0)
    assert number == 1 and [r.number for r in history] == [1]
    b = run(w, [])
    assert b.revision == 1 and len(b.place) == 3 and b.rollout is None


@pytest.mark.parametrize(
    ("max_unavailable", "max_surge", "placed", "stopped"),
    [
        (1, 1, 1, 1),  # Kubernetes' default shape: one up, one down
        (0, 1, 1, 0),  # strict make before break
        (1, 0, 0, 1),  # no spare capacity: break before make
        (2, 2, 2, 2),
    ],
)
def test_first_step_is_bounded_by_max_unavailable_and_max_surge(
    max_unavailable: int, max_surge: int, placed: int, stopped: int
) -> None:
    update = {"max_unavailable": max_unavailable, "max_surge": max_surge}
    b = run(workload(V2, update=update), old_fleet())
    assert b.revision == 2
    assert [p.reason for p in b.place] == ["rollout"] * placed
    assert len(b.stop) == stopped
    assert b.rollout is not None and b.rollout.state == "progressing"
    assert b.rollout.from_revision == 1 and b.rollout.revision == 2


def test_min_available_is_a_floor_for_rollouts_too() -> None:
    w = workload(V2, update={"max_unavailable": 2, "max_surge": 1}, disruption={"min_available": 3})
    b = run(w, old_fleet())
    assert len(b.place) == 1 and not b.stop  # 3 must stay available: wait for the new one


def test_next_old_instance_goes_only_once_the_new_one_is_healthy() -> None:
    w = workload(V2, current=2, history=((1, V1), (2, V2)), update={"max_unavailable": 0})
    unhealthy_yet = inst("new0", 2, healthy=None)
    b = run(w, [*old_fleet(), unhealthy_yet])
    assert not b.stop and not b.place  # at the surge limit, nothing available to spare
    healthy = inst("new0", 2, healthy=True)
    b = run(w, [*old_fleet(), healthy])
    assert len(b.stop) == 1 and b.stop[0].spec.generation == 1
    assert len(b.place) == 0  # the stop frees the surge slot for the next pass


def test_unavailable_old_instances_are_replaced_first() -> None:
    w = workload(V2, current=2, history=((1, V1), (2, V2)), update={"max_surge": 0})
    fleet = [inst("old0", 1), inst("old1", 1), inst("old2", 1, state=InstanceState.FAILED)]
    b = run(w, fleet)
    assert names(b.stop) == ["old2"]


def test_rollout_completes_when_no_old_instance_is_left() -> None:
    started = RolloutStatus(revision=2, from_revision=1, started_at=T0, progressed_at=T0)
    w = workload(V2, current=2, history=((1, V1), (2, V2)), rollout=started)
    b = run(w, [inst(f"new{i}", 2, replica=i) for i in range(3)])
    assert b.rollout is not None and b.rollout.state == "complete"
    events = [reason for reason, _, _ in rollout_events(started, b.rollout)]
    assert events == ["RolloutStep", "RolloutComplete"]


def test_unhealthy_new_instance_fails_the_rollout_and_holds_it() -> None:
    started = RolloutStatus(revision=2, from_revision=1, started_at=T0, progressed_at=T0)
    w = workload(V2, current=2, history=((1, V1), (2, V2)), rollout=started)
    failing = inst("new0", 2, healthy=False)
    failing.status.health_message = "GET /healthz answered 500 (3 consecutive failure(s))"
    b = run(w, [*old_fleet(2), failing])
    assert b.rollout is not None and b.rollout.state == "failed"
    assert "answered 500" in b.rollout.message
    assert not b.stop and not b.place  # held: the old version keeps serving
    failed = w.model_copy(update={"status": w.status.model_copy(update={"rollout": b.rollout})})
    target = needs_rollback(failed)
    assert target is not None and target.number == 1
    events = [(r, t) for r, _, t in rollout_events(started, b.rollout)]
    assert events == [("RolloutFailed", "Warning")]


def test_no_progress_within_the_deadline_fails_the_rollout() -> None:
    started = RolloutStatus(revision=2, from_revision=1, started_at=T0, progressed_at=T0)
    w = workload(
        V2, current=2, history=((1, V1), (2, V2)), rollout=started,
        update={"progress_deadline_seconds": 30},
    )  # fmt: skip
    fleet = [*old_fleet(2), inst("new0", 2, state=InstanceState.STARTING, healthy=None)]
    assert run(w, fleet, T0 + timedelta(seconds=20)).rollout.state == "progressing"  # type: ignore[union-attr]
    late = run(w, fleet, T0 + timedelta(seconds=31)).rollout
    assert late is not None and late.state == "failed" and "no progress" in late.message


def test_a_failed_rollback_is_never_rolled_back_again() -> None:
    failed = RolloutStatus(revision=1, from_revision=2, rollback=True, state="failed")
    w = workload(V1, current=1, history=((2, V2), (1, V1)), rollout=failed)
    assert needs_rollback(w) is None


def test_undo_reuses_the_old_revision_so_old_instances_are_current_again() -> None:
    rolled_back = RolloutStatus(revision=2, from_revision=1, state="rolled_back")
    w = workload(V1, current=2, history=((1, V1), (2, V2)), rollout=rolled_back)
    fleet = [*old_fleet(2), inst("new0", 2, healthy=False)]
    b = run(w, fleet)
    assert b.revision == 1
    assert b.rollout is not None and b.rollout.rollback and b.rollout.from_revision == 2
    assert names(b.stop) == ["new0"]  # the failing new version goes first
    assert previous_revision(w) is not None and previous_revision(w).number == 2  # type: ignore[union-attr]


def test_agents_are_sent_the_template_of_the_instance_revision() -> None:
    w = workload(V2, current=2, history=((1, V1), (2, V2)))
    assert spec_for_instance(w, 1).artifact.command == V1
    assert spec_for_instance(w, 2).artifact.command == V2
    assert spec_for_instance(w, 9).artifact.command == V2  # unknown: the current spec
    assert spec_for_instance(w, 1).replicas == w.spec.replicas  # only the template is old
