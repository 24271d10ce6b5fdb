"""The fleet as placement sees it, kept in step with the store through the change feed.

This is the one place where placement touches the store. ``LiveFleet.refresh()`` reads the
changes since the revision it last saw and applies them to a :class:`FleetSnapshot`: a node change
upserts or removes one row; an instance change releases its old booking and books the new one;
a workload change re-books that workload's instances (its per-replica request may have
changed). When the backlog is larger than ``REBUILD_AFTER`` changes, rebuilding from a full read
is cheaper than replaying, so it does that.

Invariants:
- after ``refresh()`` returns revision R, the snapshot reflects exactly the store at R;
- every instance that is desired running and bound to a known node holds one reservation,
  sized by its workload's ``resources``; no other reservation survives a refresh.

Callers read through ``view()``, which holds the lock only while refreshing; decisions run on
the snapshot (``analyze`` never mutates it; batch placement should use ``fork()``).
"""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from edgeorch.placement.config import DEFAULT_CONFIG, PlacementConfig
from edgeorch.placement.snapshot import FleetSnapshot, Reservation, build_snapshot, resource_vector
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import Workload
from edgeorch.store import (
    Database,
    NotFound,
    Page,
    current_revision,
    list_changes,
    list_instances,
    list_nodes,
    list_workloads,
    read_instance,
    read_node,
    read_workload,
)

REBUILD_AFTER = 2000
_KINDS = ("Node", "Workload", "Instance")


@dataclass(frozen=True)
class FleetView:
    """A consistent read of the fleet at ``revision``."""

    revision: int
    snapshot: FleetSnapshot
    instances: dict[str, Instance]
    workloads: dict[str, Workload]
    node_names: dict[str, str]


def _read_all(session: Session, kind: str) -> Iterator[object]:
    readers: dict[str, Callable[..., Page[Any]]] = {
        "Node": list_nodes,
        "Workload": list_workloads,
        "Instance": list_instances,
    }
    cursor: str | None = None
    while True:
        page = readers[kind](session=session, tenant=None, limit=1000, continue_token=cursor)
        yield from page.items
        cursor = page.continue_token
        if cursor is None:
            return


class LiveFleet:
    """A snapshot of nodes plus the bookings of instances, refreshed from the change feed."""

    def __init__(self, database: Database, config: PlacementConfig = DEFAULT_CONFIG) -> None:
        self._database = database
        self._config = config
        self._lock = threading.Lock()
        self._revision = -1
        self._snapshot = FleetSnapshot(config)
        self._instances: dict[str, Instance] = {}
        self._workloads: dict[str, Workload] = {}
        self._bookings: dict[str, Reservation] = {}
        self._names: dict[str, str] = {}
        # instance ids by node and by workload, so a node or workload change touches only its own
        self._by_node: dict[str, set[str]] = {}
        self._by_workload: dict[str, set[str]] = {}

    def view(self) -> FleetView:
        """Refresh, then return the current state (shared; do not mutate the snapshot)."""
        with self._lock:
            self._refresh()
            return FleetView(
                self._revision,
                self._snapshot,
                dict(self._instances),
                dict(self._workloads),
                dict(self._names),
            )

    def _refresh(self) -> None:
        with self._database.session() as session:
            if self._revision < 0:
                self._rebuild(session)
                return
            changes = list_changes(
                session=session, since=self._revision, limit=REBUILD_AFTER, kinds=_KINDS
            )
            if len(changes) >= REBUILD_AFTER:
                self._rebuild(session)
                return
            for change in changes:
                self._apply(session, change.kind, change.object_id)
            if changes:
                self._revision = changes[-1].revision

    def _rebuild(self, session: Session) -> None:
        revision = current_revision(session=session)
        nodes = [n for n in _read_all(session, "Node") if isinstance(n, Node)]
        self._workloads = {
            w.metadata.id: w for w in _read_all(session, "Workload") if isinstance(w, Workload)
        }
        self._instances = {
            i.metadata.id: i for i in _read_all(session, "Instance") if isinstance(i, Instance)
        }
        self._snapshot = build_snapshot(nodes, (), None, self._config)
        self._names = {n.metadata.id: n.metadata.name for n in nodes}
        self._bookings = {}
        self._by_node = {}
        self._by_workload = {}
        for instance in self._instances.values():
            self._index(instance)
            self._book(instance)
        self._revision = revision

    def _apply(self, session: Session, kind: str, object_id: str) -> None:
        if kind == "Node":
            try:
                node = read_node(session=session, ref=object_id, tenant=None)
            except NotFound:
                self._snapshot.remove_node(object_id)
                self._names.pop(object_id, None)
            else:
                self._snapshot.upsert_node(node)
                self._names[object_id] = node.metadata.name
            # A node coming back re-binds instances booked on it before it left.
            for instance_id in self._by_node.get(object_id, ()):
                self._release(instance_id)
                self._book(self._instances[instance_id])
        elif kind == "Instance":
            self._release(object_id)
            old = self._instances.pop(object_id, None)
            if old is not None:
                self._unindex(old)
            try:
                instance = read_instance(session=session, ref=object_id, tenant=None)
            except NotFound:
                return
            self._instances[object_id] = instance
            self._index(instance)
            self._book(instance)
        elif kind == "Workload":
            try:
                self._workloads[object_id] = read_workload(
                    session=session, ref=object_id, tenant=None
                )
            except NotFound:
                self._workloads.pop(object_id, None)
            for instance_id in self._by_workload.get(object_id, ()):
                self._release(instance_id)
                self._book(self._instances[instance_id])

    def _index(self, instance: Instance) -> None:
        iid = instance.metadata.id
        self._by_workload.setdefault(instance.spec.workload_id, set()).add(iid)
        if instance.spec.node_id is not None:
            self._by_node.setdefault(instance.spec.node_id, set()).add(iid)

    def _unindex(self, instance: Instance) -> None:
        iid = instance.metadata.id
        for index, key in (
            (self._by_workload, instance.spec.workload_id),
            (self._by_node, instance.spec.node_id),
        ):
            members = index.get(key or "")
            if members is not None:
                members.discard(iid)
                if not members:
                    del index[key or ""]

    def _book(self, instance: Instance) -> None:
        row = self._snapshot.index.get(instance.spec.node_id or "")
        if row is None or instance.spec.desired_state != "running":
            return
        workload = self._workloads.get(instance.spec.workload_id)
        if workload is None:
            return
        request = resource_vector(workload.spec.resources)
        self._bookings[instance.metadata.id] = self._snapshot.reserve(
            row, instance.spec.workload_id, request
        )

    def _release(self, instance_id: str) -> None:
        booking = self._bookings.pop(instance_id, None)
        if booking is not None:
            self._snapshot.unreserve(booking)
