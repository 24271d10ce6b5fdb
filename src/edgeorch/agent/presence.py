"""Server side of heartbeats: who was seen when, and when a heartbeat is worth a write.

Heartbeats arrive every few seconds from every node, so writing the node row on each one would
make the store's busiest write a timestamp, and every such write is a change the controllers,
the placement snapshot and the dashboard feed react to. Instead the last-seen time is kept in
memory here (the liveness signal, like a Kubernetes node ``Lease``) and the node row is persisted
only when something a controller cares about changed (state, instance count, utilization by at
least ``UTILIZATION_STEP``, agent facts) or at least every ``persist_interval`` seconds
(``EDGEORCH_NODE_STATUS_PERSIST_SECONDS``, default 300 s, like the kubelet's
``nodeStatusReportFrequency``). At 10,000 nodes that is 33 row writes a second instead of 333
with a 30 s refresh.

So a stored ``status.last_heartbeat`` of a ``ready`` node may be up to ``persist_interval`` old
(as a Kubernetes node's ``lastHeartbeatTime``, which the kubelet also refreshes every five
minutes); the node's ``state`` is what says it is alive. When a node turns ``suspect`` or
``down`` the controller writes the exact time it was last heard from. The node-lifecycle
controller reads :meth:`Presence.last_seen`, and never counts silence from before its own start
(``controllers/nodes.py``), so a restart cannot turn nodes down on a stale stored time. The
writes themselves are made by ``edgeorch.api.heartbeats``, which also keeps the stored status the
decision compares against in memory.
"""

import os
import time
from collections.abc import Callable
from datetime import datetime

from edgeorch.config import env_number
from edgeorch.domain.enums import NodeState
from edgeorch.schemas.node import NodeStatus

PERSIST_INTERVAL = 300.0
PERSIST_ENV = "EDGEORCH_NODE_STATUS_PERSIST_SECONDS"
UTILIZATION_STEP = 0.1


class Presence:
    """In-memory last-seen times per node and the persist decision.

    Heartbeats record on the event loop; the node lifecycle reads from its own thread. Every
    operation is one dict operation, atomic under the GIL, so there is no lock, and a pass
    reads the live table (:meth:`lookup`) instead of copying 10,000 entries twice a second.
    """

    def __init__(
        self,
        *,
        persist_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._persist_interval = (
            persist_interval
            if persist_interval is not None
            else env_number(os.environ, PERSIST_ENV, PERSIST_INTERVAL, unit="seconds")
        )
        self._clock = clock
        self._seen: dict[str, datetime] = {}
        self._persisted: dict[str, float] = {}  # monotonic time of the node row's last write

    def seen(self, node_id: str, at: datetime) -> None:
        """Record a heartbeat from ``node_id`` at ``at``."""
        self._seen[node_id] = at

    def last_seen(self, node_id: str) -> datetime | None:
        """When this process last heard from ``node_id`` (None: not since it started)."""
        return self._seen.get(node_id)

    def lookup(self) -> Callable[[str], datetime | None]:
        """:meth:`last_seen` as the table's own ``get``: what a pass over the whole fleet
        calls per node (``controllers/nodes.py`` ``for_one_pass``)."""
        return self._seen.get

    def should_persist(self, node_id: str, stored: NodeStatus, fresh: NodeStatus) -> bool:
        """True when ``fresh`` differs from ``stored`` in a way worth a write, or it is time."""
        if (
            stored.state is not fresh.state
            or stored.instances != fresh.instances
            or stored.agent != fresh.agent
            or _moved(stored, fresh)
        ):
            return True
        last = self._persisted.get(node_id)
        return last is None or self._clock() - last >= self._persist_interval

    def persisted(self, node_id: str) -> None:
        """Note that the node row was just written (or queued for the next group commit)."""
        self._persisted[node_id] = self._clock()

    def forget_persisted(self, node_id: str) -> None:
        """The last write did not happen (it lost a race or failed): write on the next beat."""
        self._persisted.pop(node_id, None)


def _moved(stored: NodeStatus, fresh: NodeStatus) -> bool:
    a, b = stored.utilization, fresh.utilization
    deltas = (a.cpu - b.cpu, a.memory - b.memory, a.storage - b.storage)
    return any(abs(d) >= UTILIZATION_STEP for d in deltas)


def ready_status(stored: NodeStatus, *, now: datetime, **changes: object) -> NodeStatus:
    """``stored`` updated by a heartbeat at ``now``: the node is ``ready``."""
    return stored.model_copy(
        update={"state": NodeState.READY, "last_heartbeat": now, "message": "", **changes}
    )
