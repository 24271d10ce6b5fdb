"""Heartbeats without the store: each node's stored state in memory, due writes group-committed.

Ten thousand agents beating every 10 s are 1,000 heartbeats a second. A beat that changes nothing
a controller cares about touches no database: :class:`HeartbeatState` keeps, per node, a
:class:`NodeView` (the node and the instances bound to it, as last stored), learned on the node's
first beat after the server started and kept current by what this process writes. Writes that are
due are handed to one background thread, which commits many nodes' writes in one transaction:

- **periodic and utilization writes** (``agent/presence.py``: every 300 s, or utilization moved by
  0.1): queued, and the beat is answered at once. They are committed within ``flush_interval``
  (1 s); a crash loses at most that second, which is harmless: the next beat writes again.
- **changes** (a new node state, instance count or agent facts, or a changed instance report):
  queued, the writer commits at once (with whatever else is queued), and the beat is answered only
  after that commit. Controllers react to these, and an acknowledged write is durable
  (``DESIGN.md``: "A write is acknowledged only once it is durable").

**Writes by others.** The same thread follows the change feed (woken by every commit of this
process, else every ``poll_interval``) and drops the view of a node that another writer changed:
a Node change (an operator, the node-lifecycle controller, a deletion) or an Instance change of an
instance bound to it before or after (a controller binding, moving or deleting one). The node's
next beat reads it again. The writer re-checks everything inside its transaction, so a view that
is stale for a moment cannot do harm:

- the node row is only updated, never created: a beat never brings back a deleted node, it gets
  404 once the node's view is gone;
- a node-status write carries the ``resource_version`` its view was read at and is dropped when
  the row changed since (compare-and-swap): a beat never overwrites a ``down`` or ``suspect``
  the node-lifecycle controller wrote after it. The node's next beat reads the new state and
  writes ``ready`` again (a heartbeat is what makes a node ready);
- an instance report is compared with the instance row read in the writer's transaction and
  applied only while the instance is still bound to the node.

A report of an instance the view does not know makes the beat read the node again first (it may
have just been bound here), so a new instance's first ``running`` is written at once.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from edgeorch.agent.presence import Presence
from edgeorch.agent.protocol import InstanceReport
from edgeorch.api.events import record
from edgeorch.api.problems import ApiProblem
from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node, NodeStatus
from edgeorch.store import (
    Change,
    Conflict,
    Database,
    NotFound,
    current_revision,
    list_changes,
    read_node,
    update_instance_status,
    update_node_status,
)
from edgeorch.store.sql.changes import REVISION_KEY
from edgeorch.store.sql.instances import to_instance
from edgeorch.store.sql.orm import InstanceRow, NodeRow

log = logging.getLogger("edgeorch.heartbeats")

FLUSH_INTERVAL = 1.0  # seconds a queued periodic write may wait for others to share its commit
POLL_INTERVAL = 0.25  # seconds between change-feed reads when this process commits nothing
_KINDS = ("Node", "Instance")
_CHUNK = 500  # ids per IN (...) query
CPU_STEP = 0.1  # a relative change of an instance's CPU use worth a write (the HPA tolerance)
CPU_FLOOR = 0.005  # cores: changes below this are noise


@dataclass
class NodeView:
    """A node and the instances bound to it, as stored at ``revision`` or written since by this
    process; ``ignored`` are reported instances found not bound here when it was read."""

    node: Node
    bound: dict[str, Instance]
    revision: int
    ignored: frozenset[str] = frozenset()


@dataclass
class _Pending:
    """What is queued for one node: its newest status and its changed instance reports."""

    node_name: str
    status: NodeStatus | None
    base_version: int
    reports: dict[str, InstanceReport]
    urgent: bool
    waiters: list["Future[int]"] = field(default_factory=list)


@dataclass
class _Outcome:
    """What the writer's transaction did for one node."""

    node: Node | None = None  # the written node row
    gone: bool = False  # the node no longer exists
    raced: bool = False  # another writer changed the node row: the status write was dropped
    instances: list[Instance] = field(default_factory=list)


class HeartbeatState:
    """Per-node views, the group-commit writer and the change-feed follower of one server."""

    def __init__(
        self,
        database: Database,
        presence: Presence,
        *,
        flush_interval: float = FLUSH_INTERVAL,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._database = database
        self._presence = presence
        self._flush_interval = flush_interval
        self._poll = poll_interval
        self._lock = threading.Lock()
        self._views: dict[str, NodeView] = {}
        self._instance_node: dict[str, str] = {}  # instance id → node of the view holding it
        self._touched: dict[str, int] = {}  # node id → newest revision known to change it
        self._pending: dict[str, _Pending] = {}
        self._pending_since: float | None = None
        self._urgent = False
        self._position = -1  # every change up to here has been followed
        self._ours: set[int] = set()  # revisions this writer committed, not yet followed past
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unlisten = database.on_commit(self._wake.set)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (idempotent); the change feed is followed from now on."""
        with self._lock:
            if self._thread is not None:
                return
            with self._database.session() as session:
                self._position = current_revision(session=session)
            self._thread = threading.Thread(
                target=self._run, name="edgeorch-heartbeats", daemon=True
            )
        self._thread.start()

    def close(self) -> None:
        """Stop the thread after committing what is queued."""
        with self._lock:
            self._stop.set()
        self._wake.set()
        self._unlisten()
        if self._thread is not None:
            self._thread.join(10)
        self.flush()

    # -- the heartbeat side -------------------------------------------------------------------

    def view(self, node_id: str) -> NodeView | None:
        """The node's view, or None when it must be read (first beat, or changed by others)."""
        with self._lock:
            return self._views.get(node_id)

    def load(self, node_id: str, *, reported: Iterable[str] = ()) -> NodeView:
        """Read the node and its instances (one snapshot) and keep them as its view, unless a
        change newer than the read is already known. Raises ``NotFound`` for a deleted node."""
        self.start()
        with self._database.session() as session:
            revision = current_revision(session=session)
            node = read_node(session=session, ref=node_id, tenant=None)
            bound = _bound_instances(session, node_id)
        view = NodeView(node, bound, revision, frozenset(set(reported) - bound.keys()))
        with self._lock:
            if self._touched.get(node_id, -1) <= revision:
                self._drop(node_id)
                self._views[node_id] = view
                for iid in bound:
                    self._instance_node[iid] = node_id
        return view

    def submit(
        self,
        node_id: str,
        *,
        node_name: str,
        status: NodeStatus | None,
        base_version: int,
        reports: Sequence[InstanceReport] = (),
        urgent: bool,
    ) -> "Future[int] | None":
        """Queue a node-status write (``status``, compare-and-swap on ``base_version``) and
        instance reports. ``urgent`` commits at once and returns a future that completes, with
        the number of instances written, once the write is durable; otherwise returns None and
        the write is committed within ``flush_interval``."""
        self.start()
        waiter: Future[int] | None = Future() if urgent else None
        with self._lock:
            if self._stop.is_set():  # close() commits only what was queued before it
                raise ApiProblem(
                    503, "Service Unavailable", "the server is shutting down; send the beat again"
                )
            pending = self._pending.get(node_id)
            if pending is None:
                pending = self._pending[node_id] = _Pending(
                    node_name, status, base_version, {}, urgent
                )
            elif status is not None:
                pending.status, pending.base_version = status, base_version
            pending.reports.update((r.id, r) for r in reports)
            pending.urgent = pending.urgent or urgent
            if waiter is not None:
                pending.waiters.append(waiter)
            if self._pending_since is None:
                self._pending_since = time.monotonic()
            self._urgent = self._urgent or urgent
        if urgent:
            self._wake.set()
        return waiter

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._timeout())
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.follow()
            except Exception:
                log.exception("heartbeats: reading the change feed failed")
                self._stop.wait(1.0)
            if self._due():
                try:
                    self.flush()
                except Exception:  # flush() settles its waiters itself; keep the thread alive
                    log.exception("heartbeats: committing queued writes failed")

    def _timeout(self) -> float:
        with self._lock:
            if self._urgent:
                return 0.0
            since = self._pending_since
        if since is None:
            return self._poll
        return max(0.0, min(self._poll, since + self._flush_interval - time.monotonic()))

    def _due(self) -> bool:
        with self._lock:
            since = self._pending_since
            return self._urgent or (
                since is not None and time.monotonic() - since >= self._flush_interval
            )

    def flush(self) -> None:
        """Commit everything queued in one transaction (the thread does this; tests too)."""
        with self._lock:
            batch, self._pending = self._pending, {}
            self._pending_since, self._urgent = None, False
        if not batch:
            return
        revision: int | None = None
        try:
            with self._database.write() as session:
                outcomes = {node_id: _write(session, node_id, p) for node_id, p in batch.items()}
                revision = session.info.get(REVISION_KEY)
                if revision is not None:
                    # Before the commit: the follower (this thread) must skip our own changes.
                    self._ours.add(revision)
        except Exception as exc:
            if revision is not None:
                self._ours.discard(revision)
            log.exception("heartbeats: writing %d nodes failed; their next beats retry", len(batch))
            with self._lock:
                for node_id in batch:
                    self._drop(node_id)
            for node_id, pending in batch.items():
                self._presence.forget_persisted(node_id)
                for waiter in pending.waiters:
                    _settle(waiter, error=exc)
            return
        self._applied(batch, outcomes, revision)

    def _applied(
        self, batch: dict[str, _Pending], outcomes: dict[str, _Outcome], revision: int | None
    ) -> None:
        with self._lock:
            for node_id, outcome in outcomes.items():
                if revision is not None:
                    self._touched[node_id] = max(self._touched.get(node_id, -1), revision)
                view = self._views.get(node_id)
                if outcome.gone or outcome.raced:
                    self._drop(node_id)
                    continue
                if view is None:
                    continue
                if any(i.metadata.id not in view.bound for i in outcome.instances):
                    self._drop(node_id)  # bound here after the view was read: read it again
                    continue
                if outcome.node is not None:
                    view.node = outcome.node
                for instance in outcome.instances:
                    view.bound[instance.metadata.id] = instance  # replaces: the size stays
                if revision is not None:
                    view.revision = revision
        for node_id, pending in batch.items():
            outcome = outcomes[node_id]
            if outcome.raced:
                self._presence.forget_persisted(node_id)
            for waiter in pending.waiters:
                if outcome.gone:
                    _settle(waiter, error=NotFound("Node", node_id, None))
                else:
                    _settle(waiter, result=len(outcome.instances))

    def follow(self) -> None:
        """Read the change feed since the last call and drop the views others changed."""
        if self._position < 0:
            return
        with self._database.session() as session:
            head = current_revision(session=session)
            if head <= self._position:
                return
            changes: list[Change] = []
            since = self._position
            while True:
                batch = list_changes(session=session, since=since, kinds=_KINDS)
                changes.extend(c for c in batch if c.revision not in self._ours)
                if not batch or batch[-1].revision >= head:
                    break
                since = batch[-1].revision
            reached = max([head, *(c.revision for c in changes)])
            instance_ids = {c.object_id for c in changes if c.kind == "Instance"}
            now_bound = _nodes_of(session, instance_ids)
        with self._lock:
            for change in changes:
                nodes: set[str | None]
                if change.kind == "Node":
                    nodes = {change.object_id}
                else:
                    nodes = {
                        self._instance_node.get(change.object_id),
                        now_bound.get(change.object_id),
                    }
                for node_id in nodes:
                    if node_id is not None:
                        self._touched[node_id] = max(
                            self._touched.get(node_id, -1), change.revision
                        )
                        self._drop(node_id)
            self._position = max(self._position, reached)
            self._ours = {r for r in self._ours if r > self._position}

    def _drop(self, node_id: str) -> None:
        """Forget a node's view (call under the lock)."""
        view = self._views.pop(node_id, None)
        if view is not None:
            for iid in view.bound:
                if self._instance_node.get(iid) == node_id:
                    del self._instance_node[iid]


def _settle(waiter: "Future[int]", *, result: int = 0, error: BaseException | None = None) -> None:
    """Complete a waiter, unless its beat went away (a cancelled request cancels it)."""
    if waiter.set_running_or_notify_cancel():
        if error is None:
            waiter.set_result(result)
        else:
            waiter.set_exception(error)


async def wait_durable(waiter: "Future[int]") -> int:
    """Await a :meth:`HeartbeatState.submit` future from the event loop."""
    return await asyncio.wrap_future(waiter)


# -- what a beat changes ----------------------------------------------------------------------


def changed_reports(
    reports: Iterable[InstanceReport], bound: dict[str, Instance]
) -> list[tuple[InstanceReport, Instance]]:
    """Reports that change a stored status; reports of instances not bound here are ignored."""
    changed = []
    for report in reports:
        instance = bound.get(report.id)
        if instance is None:
            continue
        status = instance.status
        if (status.state, status.endpoint, status.message, status.restarts) != (
            report.state,
            report.endpoint,
            report.message,
            report.restarts,
        ) or _health_or_usage_moved(report, instance):
            changed.append((report, instance))
    return changed


def _health_or_usage_moved(report: InstanceReport, instance: Instance) -> bool:
    """Health changed, or CPU use moved by more than ``CPU_STEP`` (the autoscaler's input)."""
    status = instance.status
    if (status.healthy, status.health_message) != (report.healthy, report.health_message):
        return True
    old, new = status.cpu_cores, report.cpu_cores
    if old is None or new is None:
        return old is not new
    return abs(new - old) > max(CPU_FLOOR, CPU_STEP * max(old, new))


# -- the writer's transaction -----------------------------------------------------------------


def _write(session: Session, node_id: str, pending: _Pending) -> _Outcome:
    outcome = _Outcome()
    if pending.status is not None:
        try:
            # Both errors are raised before the row is touched, so the batch goes on.
            outcome.node = update_node_status(
                session=session,
                node_id=node_id,
                status=pending.status,
                expected_version=pending.base_version,
            )
        except NotFound:
            outcome.gone = True
            return outcome
        except Conflict:
            outcome.raced = True
    elif session.scalar(select(NodeRow.id).where(NodeRow.id == node_id)) is None:
        outcome.gone = True
        return outcome
    if pending.reports:
        rows = session.scalars(
            select(InstanceRow).where(
                InstanceRow.id.in_(list(pending.reports)), InstanceRow.node_id == node_id
            )
        )
        current = {row.id: to_instance(row) for row in rows}
        for report, instance in changed_reports(pending.reports.values(), current):
            outcome.instances.append(_apply_report(session, report, instance, pending.node_name))
    return outcome


def _apply_report(
    session: Session, report: InstanceReport, instance: Instance, node: str
) -> Instance:
    status = instance.status.model_copy(
        update={
            "state": report.state,
            "endpoint": report.endpoint,
            "message": report.message,
            "restarts": report.restarts,
            "started_at": report.started_at,
            "healthy": report.healthy,
            "health_message": report.health_message,
            "cpu_cores": report.cpu_cores,
        }
    )
    written = update_instance_status(
        session=session, instance_id=instance.metadata.id, status=status
    )
    if report.state is InstanceState.FAILED and instance.status.state is not InstanceState.FAILED:
        record(
            session,
            tenant=instance.metadata.tenant,
            kind="Instance",
            object_id=instance.metadata.id,
            name=instance.metadata.name,
            reason="InstanceFailed",
            message=f"instance {instance.metadata.name} failed on node {node}: {report.message}",
            type_="Warning",
        )
    return written


def _bound_instances(session: Session, node_id: str) -> dict[str, Instance]:
    # The rows themselves, not a listing page: a page is built for API clients (documents
    # spliced in SQL, pagination), and building that statement cost 7 % of the server's CPU
    # while thousands of nodes read their views for the first time (py-spy, 2026-11-22).
    rows = session.scalars(select(InstanceRow).where(InstanceRow.node_id == node_id))
    return {row.id: to_instance(row) for row in rows}


def _nodes_of(session: Session, instance_ids: set[str]) -> dict[str, str]:
    """The node each of these instances is bound to now (unbound and deleted ones are left out)."""
    out: dict[str, str] = {}
    ids = sorted(instance_ids)
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(InstanceRow.id, InstanceRow.node_id).where(
                InstanceRow.id.in_(ids[start : start + _CHUNK])
            )
        )
        out.update((iid, node_id) for iid, node_id in rows if node_id is not None)
    return out
