"""An in-memory mirror of nodes, workloads and instances that follows the change feed, and tells
each reader what changed since the revision it last looked at.

The periodic controllers (rollbacks, the autoscaler, the drain watcher, the alert rules) keep
small indexes of their own ("workloads whose rollout failed", "nodes draining", ...) and must
revisit only the objects that changed since their previous pass. :meth:`FeedMirror.refresh`
reads the change rows after its revision (one indexed query) and the changed objects in one
``IN`` query per kind; :meth:`FeedMirror.changes_since` then answers any reader's "what changed
after revision r" from a log of recent changes, so several controllers can share one mirror.

Invariants:
- after ``refresh()`` returns R, ``nodes``, ``workloads`` and ``instances`` are the store at R
  (on PostgreSQL an object may already be newer; its change is then read again next refresh);
- ``instances_on(node)`` and ``instances_of(workload)`` agree with ``instances``;
- ``changes_since(r)`` names every object that changed in ``(r, revision]``, or is None when the
  log no longer reaches back to ``r`` (first look, or after a rebuild): the reader rescans all.

Threads that share a mirror hold :attr:`FeedMirror.lock` while they refresh and read it (the
objects themselves are never mutated, so they may be used after the lock is released).
"""

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import Workload
from edgeorch.store import (
    Database,
    Page,
    current_revision,
    list_changes,
    list_instances,
    list_nodes,
    list_workloads,
)
from edgeorch.store.sql import objects
from edgeorch.store.sql.orm import InstanceRow, NodeRow, WorkloadRow

REBUILD_AFTER = 2000  # a larger backlog is read whole rather than replayed
LOG_LIMIT = 50_000  # change entries kept for readers that look less often
_CHUNK = 500  # ids per IN (...) query
KINDS = ("Node", "Workload", "Instance")


@dataclass
class Changes:
    """Objects changed in a range of revisions. ``instance_workloads`` / ``instance_nodes``:
    workloads and nodes one of whose instances changed, was added or went (before and after)."""

    nodes: set[str] = field(default_factory=set)
    workloads: set[str] = field(default_factory=set)
    instances: set[str] = field(default_factory=set)
    instance_workloads: set[str] = field(default_factory=set)
    instance_nodes: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.nodes or self.workloads or self.instances)


_NODE, _WORKLOAD, _INSTANCE, _OF_WORKLOAD, _ON_NODE = range(5)
_Entry = tuple[int, int, str]  # (revision, what, object id)


def _read_all(session: Session, reader: Callable[..., Page[Any]]) -> Iterator[Any]:
    cursor: str | None = None
    while True:
        page = reader(session=session, tenant=None, limit=1000, continue_token=cursor)
        yield from page.items
        cursor = page.continue_token
        if cursor is None:
            return


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


class FeedMirror:
    """Nodes, workloads and instances kept in step with the change feed; see the docstring."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.lock = threading.RLock()
        self.revision = -1
        self.nodes: dict[str, Node] = {}
        self.workloads: dict[str, Workload] = {}
        self.instances: dict[str, Instance] = {}
        self._on_node: dict[str, set[str]] = {}
        self._of_workload: dict[str, set[str]] = {}
        # The log: parallel lists of revisions (ascending) and (what, id); it holds every
        # change after ``_log_start``.
        self._log_revisions: list[int] = []
        self._log: list[tuple[int, str]] = []
        self._log_start = -1

    # -- reading -------------------------------------------------------------------------------

    def instances_on(self, node_id: str) -> list[Instance]:
        """Instances bound to ``node_id``."""
        return [self.instances[i] for i in self._on_node.get(node_id, ())]

    def instances_of(self, workload_id: str) -> list[Instance]:
        """Instances of ``workload_id``."""
        return [self.instances[i] for i in self._of_workload.get(workload_id, ())]

    def changes_since(self, revision: int) -> Changes | None:
        """What changed after ``revision`` up to :attr:`revision`; None: rescan everything."""
        if revision < self._log_start or self.revision < 0:
            return None
        out = Changes()
        targets = (
            out.nodes,
            out.workloads,
            out.instances,
            out.instance_workloads,
            out.instance_nodes,
        )
        start = bisect.bisect_right(self._log_revisions, revision)
        for what, object_id in self._log[start:]:
            targets[what].add(object_id)
        return out

    # -- following the feed --------------------------------------------------------------------

    def refresh(self) -> int:
        """Bring the mirror to the store's current revision; returns it."""
        with self._database.session() as session:
            if self.revision < 0:
                self._rebuild(session)
                return self.revision
            changes = list_changes(
                session=session, since=self.revision, limit=REBUILD_AFTER, kinds=KINDS
            )
            if len(changes) >= REBUILD_AFTER:
                self._rebuild(session)
                return self.revision
            if not changes:
                return self.revision
            by_kind: dict[str, list[tuple[int, str]]] = {kind: [] for kind in KINDS}
            for change in changes:
                by_kind[change.kind].append((change.revision, change.object_id))
            entries = self._apply_nodes(session, by_kind["Node"])
            entries += self._apply_workloads(session, by_kind["Workload"])
            entries += self._apply_instances(session, by_kind["Instance"])
            self.revision = changes[-1].revision
        # Every entry is newer than the log's last, so sorting this batch keeps the log sorted.
        entries.sort(key=lambda e: e[0])
        self._log_revisions.extend(e[0] for e in entries)
        self._log.extend((e[1], e[2]) for e in entries)
        self._trim()
        return self.revision

    def _rebuild(self, session: Session) -> None:
        revision = current_revision(session=session)
        self.nodes = {n.metadata.id: n for n in _read_all(session, list_nodes)}
        self.workloads = {w.metadata.id: w for w in _read_all(session, list_workloads)}
        self.instances = {}
        self._on_node, self._of_workload = {}, {}
        for instance in _read_all(session, list_instances):
            self._put_instance(instance)
        self.revision = revision
        self._log_revisions, self._log, self._log_start = [], [], revision

    def _fetch(self, session: Session, model: Any, ids: Iterable[str]) -> dict[str, str]:
        """The JSON documents of the rows ``ids`` that exist, by id (the list endpoints' fast
        path: pydantic parses the stored JSON text in one pass)."""
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(ids))):
            query = select(*objects._listed_columns(model)).where(model.id.in_(chunk))
            for row in session.execute(query):
                found[row.id] = objects._document(row)
        return found

    def _apply_nodes(self, session: Session, changed: list[tuple[int, str]]) -> list[_Entry]:
        rows = self._fetch(session, NodeRow, (i for _, i in changed))
        for object_id, row in ((i, rows.get(i)) for i in {i for _, i in changed}):
            if row is None:
                self.nodes.pop(object_id, None)
            else:
                self.nodes[object_id] = Node.model_validate_json(row)
        return [(revision, _NODE, object_id) for revision, object_id in changed]

    def _apply_workloads(self, session: Session, changed: list[tuple[int, str]]) -> list[_Entry]:
        rows = self._fetch(session, WorkloadRow, (i for _, i in changed))
        for object_id in {i for _, i in changed}:
            row = rows.get(object_id)
            if row is None:
                self.workloads.pop(object_id, None)
            else:
                self.workloads[object_id] = Workload.model_validate_json(row)
        return [(revision, _WORKLOAD, object_id) for revision, object_id in changed]

    def _apply_instances(self, session: Session, changed: list[tuple[int, str]]) -> list[_Entry]:
        rows = self._fetch(session, InstanceRow, (i for _, i in changed))
        last = {object_id: revision for revision, object_id in changed}
        touched: dict[str, set[tuple[int, str]]] = {}
        for object_id in last:
            before = self._drop_instance(object_id)
            row = rows.get(object_id)
            after = None if row is None else Instance.model_validate_json(row)
            if after is not None:
                self._put_instance(after)
            for inst in (before, after):
                if inst is not None:
                    marks = touched.setdefault(object_id, set())
                    marks.add((_OF_WORKLOAD, inst.spec.workload_id))
                    if inst.spec.node_id:
                        marks.add((_ON_NODE, inst.spec.node_id))
        entries = [(revision, _INSTANCE, object_id) for revision, object_id in changed]
        for object_id, marks in touched.items():
            entries.extend((last[object_id], what, target) for what, target in marks)
        return entries

    def _put_instance(self, instance: Instance) -> None:
        object_id = instance.metadata.id
        self.instances[object_id] = instance
        self._of_workload.setdefault(instance.spec.workload_id, set()).add(object_id)
        if instance.spec.node_id:
            self._on_node.setdefault(instance.spec.node_id, set()).add(object_id)

    def _drop_instance(self, object_id: str) -> Instance | None:
        instance = self.instances.pop(object_id, None)
        if instance is None:
            return None
        for index, key in (
            (self._of_workload, instance.spec.workload_id),
            (self._on_node, instance.spec.node_id),
        ):
            members = index.get(key or "")
            if members is not None:
                members.discard(object_id)
                if not members:
                    del index[key or ""]
        return instance

    def _trim(self) -> None:
        if len(self._log) <= LOG_LIMIT:
            return
        cut = len(self._log) - LOG_LIMIT // 2
        # Never split one revision's entries: readers resume after a whole revision.
        while cut < len(self._log) and self._log_revisions[cut] == self._log_revisions[cut - 1]:
            cut += 1
        self._log_start = self._log_revisions[cut - 1]
        del self._log_revisions[:cut], self._log[:cut]
