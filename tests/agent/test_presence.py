"""Heartbeats persist the node row only on change or every PERSIST_INTERVAL seconds."""

from collections.abc import Callable
from datetime import UTC, datetime

from edgeorch.agent.presence import Presence, ready_status
from edgeorch.controllers.nodes import for_one_pass
from edgeorch.domain.enums import NodeState
from edgeorch.schemas.node import NodeStatus, Utilization


def test_persist_on_change_or_interval() -> None:
    now = [0.0]
    presence = Presence(persist_interval=30, clock=lambda: now[0])
    at = datetime(2026, 1, 1, tzinfo=UTC)
    stored = NodeStatus(state=NodeState.READY, instances=1)
    fresh = ready_status(stored, now=at, instances=1)
    presence.seen("n", at)
    assert presence.should_persist("n", stored, fresh)  # never persisted by this process
    presence.persisted("n")
    assert not presence.should_persist("n", stored, fresh)
    now[0] = 29.0
    assert not presence.should_persist("n", stored, fresh.model_copy(
        update={"utilization": Utilization(cpu=0.05)}
    ))  # fmt: skip
    assert presence.should_persist("n", stored, ready_status(stored, now=at, instances=2))
    assert presence.should_persist(
        "n", stored, fresh.model_copy(update={"utilization": Utilization(cpu=0.5)})
    )
    pending = NodeStatus(state=NodeState.SUSPECT, instances=1)
    assert presence.should_persist("n", pending, fresh)
    now[0] = 30.0
    assert presence.should_persist("n", stored, fresh)
    assert presence.last_seen("n") == at


def test_forget_persisted_makes_the_next_beat_write() -> None:
    presence = Presence(persist_interval=30, clock=lambda: 0.0)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    stored = NodeStatus(state=NodeState.READY)
    fresh = ready_status(stored, now=at)
    presence.seen("n", at)
    presence.persisted("n")
    assert not presence.should_persist("n", stored, fresh)
    presence.forget_persisted("n")  # the queued write lost a race or failed
    assert presence.should_persist("n", stored, fresh)


def test_the_node_lifecycle_looks_up_the_live_table() -> None:
    presence = Presence(persist_interval=30)
    first, later = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    presence.seen("a", first)
    lookup = for_one_pass(presence.last_seen)  # a plain callable is used as it is
    assert lookup("a") == first and lookup("b") is None

    class WithLookup:
        def __call__(self, node_id: str) -> datetime | None:
            raise AssertionError("a pass must not call per node when a lookup exists")

        def lookup(self) -> Callable[[str], datetime | None]:
            return presence.lookup()

    lookup = for_one_pass(WithLookup())
    presence.seen("a", later)  # no copy: a beat during the pass is seen by it
    assert lookup("a") == later and lookup("b") is None
