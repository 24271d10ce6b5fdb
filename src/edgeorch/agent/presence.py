"""Server side of heartbeats: who was seen when, and when a heartbeat is worth a write.

Heartbeats arrive every few seconds from every node, so writing the node row on each one would
make the store's busiest write a timestamp. Instead the last-seen time is kept in memory here and
the node row is persisted only when something a controller cares about changed (state, instance
count, utilization by at least ``UTILIZATION_STEP``, agent facts) or at least every
``PERSIST_INTERVAL`` seconds. A node-lifecycle controller in the same process reads
:meth:`Presence.last_seen`; one in another replica reads ``status.last_heartbeat``, which is at
most ``PERSIST_INTERVAL`` seconds (plus the writer's one-second group commit) stale. The writes
themselves are made by ``edgeorch.api.heartbeats``, which also keeps the stored status the
decision compares against in memory.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from edgeorch.domain.enums import NodeState
from edgeorch.schemas.node import NodeStatus

PERSIST_INTERVAL = 30.0
UTILIZATION_STEP = 0.1


@dataclass
class _Seen:
    at: datetime
    persisted_monotonic: float | None = None


class Presence:
    """In-memory last-seen times per node and the persist decision."""

    def __init__(
        self,
        *,
        persist_interval: float = PERSIST_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._persist_interval = persist_interval
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def seen(self, node_id: str, at: datetime) -> None:
        """Record a heartbeat from ``node_id`` at ``at``."""
        with self._lock:
            entry = self._seen.get(node_id)
            if entry is None:
                self._seen[node_id] = _Seen(at=at)
            else:
                entry.at = at

    def last_seen(self, node_id: str) -> datetime | None:
        """When this process last heard from ``node_id`` (None: not since it started)."""
        with self._lock:
            entry = self._seen.get(node_id)
            return None if entry is None else entry.at

    def should_persist(self, node_id: str, stored: NodeStatus, fresh: NodeStatus) -> bool:
        """True when ``fresh`` differs from ``stored`` in a way worth a write, or it is time."""
        if (
            stored.state is not fresh.state
            or stored.instances != fresh.instances
            or stored.agent != fresh.agent
            or _moved(stored, fresh)
        ):
            return True
        with self._lock:
            entry = self._seen.get(node_id)
            last = None if entry is None else entry.persisted_monotonic
        return last is None or self._clock() - last >= self._persist_interval

    def persisted(self, node_id: str) -> None:
        """Note that the node row was just written (or queued for the next group commit)."""
        with self._lock:
            entry = self._seen.get(node_id)
            if entry is not None:
                entry.persisted_monotonic = self._clock()

    def forget_persisted(self, node_id: str) -> None:
        """The last write did not happen (it lost a race or failed): write on the next beat."""
        with self._lock:
            entry = self._seen.get(node_id)
            if entry is not None:
                entry.persisted_monotonic = None


def _moved(stored: NodeStatus, fresh: NodeStatus) -> bool:
    a, b = stored.utilization, fresh.utilization
    deltas = (a.cpu - b.cpu, a.memory - b.memory, a.storage - b.storage)
    return any(abs(d) >= UTILIZATION_STEP for d in deltas)


def ready_status(stored: NodeStatus, *, now: datetime, **changes: object) -> NodeStatus:
    """``stored`` updated by a heartbeat at ``now``: the node is ``ready``."""
    return stored.model_copy(
        update={"state": NodeState.READY, "last_heartbeat": now, "message": "", **changes}
    )
