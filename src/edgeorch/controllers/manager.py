"""The controllers' threads.

- :class:`NodeLifecycle`, one thread ticking every ``node_tick`` seconds: silence is the
  absence of changes, so it cannot be driven by the change feed. It needs the in-memory
  presence of the process that receives the heartbeats, so it always runs in the API server.
- :class:`ControllerManager`, the controllers that only read and write the store: the workload
  thread waits on the change feed (``FeedWaiter``) and runs a pass on every change, with a full
  resync every ``resync`` seconds as a safety net, and every second while some node is suspect
  or down (``lost_after`` deadlines are time, not changes); the operations thread (rollbacks,
  autoscaler, drain events), the migration loop and the alert engine. ``edgeorch server`` runs
  them in a process of their own (``controllers/process.py``), so the API never waits for the
  GIL behind a reconcile pass; given a presence, the manager also runs the node lifecycle in
  its own process (the tests, ``EDGEORCH_CONTROLLERS=thread``).

Threads are daemons and stop at ``stop()``; an exception in a pass is logged and the loop goes
on (a controller that dies silently is worse than one that logs the same error twice).
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from edgeorch.alerts.engine import AlertEngine
from edgeorch.alerts.settings import AlertSettings
from edgeorch.controllers.autoscale import Autoscaler
from edgeorch.controllers.feed import FeedWaiter, NodeCache
from edgeorch.controllers.migrations import MigrationController, MigrationLoop
from edgeorch.controllers.nodes import (
    DownClock,
    LastSeen,
    NodeTracker,
    Stalls,
    for_one_pass,
    lifecycle_plan,
    note_applied,
)
from edgeorch.controllers.planner import PlanConflict, StorePlanner
from edgeorch.controllers.reconcile import NodeView
from edgeorch.controllers.rollout import DrainWatcher, RolloutController
from edgeorch.controllers.settings import ControllerSettings
from edgeorch.controllers.workloads import EventThrottle, WorkloadController
from edgeorch.domain.enums import NodeState
from edgeorch.placement.live import LiveFleet
from edgeorch.schemas.node import Node, NodeSpec
from edgeorch.store import Database, list_changes
from edgeorch.store.mirror import FeedMirror

log = logging.getLogger("edgeorch.controllers")
_FEED_KINDS = ("Workload", "Instance", "Node")
OPERATIONS_TICK = 1.0  # seconds between passes of rollbacks, autoscaler and drain events
_MIN_PASS_INTERVAL = 0.05  # batch bursts of changes (an agent reporting many instances)
PASS_PACING = 3.0  # after a pass of d seconds, rest at least PASS_PACING * d
ROLLOUT_TICK = 5.0  # seconds between passes while a rollout is in progress


_SKIM = 2000  # changes looked at to decide whether a reconcile pass is needed


_NodeKey = tuple[NodeState, NodeSpec, tuple[tuple[str, str], ...]]


def _node_key(node: Node | None) -> _NodeKey | None:
    """What the reconciler acts on of a node: state, spec (with scheduling) and labels; None
    for a node that is gone or has never joined (nothing can be placed on a pending node, so
    pre-registering a thousand sites starts no pass)."""
    if node is None or node.status.state is NodeState.PENDING:
        return None
    return node.status.state, node.spec, tuple(sorted(node.metadata.labels.items()))


class NodeLifecycle:
    """The node-lifecycle controller's thread: ``ready`` → ``suspect`` → ``down`` on silence."""

    def __init__(
        self,
        database: Database,
        presence: LastSeen,
        settings: ControllerSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        stalled: Stalls | None = None,
    ) -> None:
        self.settings = settings or ControllerSettings()
        self._clock = clock or database.clock
        self._presence = presence
        self._stalled = stalled
        self._stop = threading.Event()
        self._cache = NodeCache(database, joined_only=True)  # pending nodes are left alone
        self._planner = StorePlanner(database)
        self.tracker = NodeTracker(started=self._clock())
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name="edgeorch-nodes", daemon=True)
        self._thread.start()
        log.info(
            "node lifecycle started (suspect after %g s, down after %g s)",
            self.settings.suspect_after,
            self.settings.down_after,
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def node_pass(self) -> None:
        """One node-lifecycle pass."""
        nodes = self._cache.refresh()
        self.tracker.note_changed(self._cache.changed)
        now = self._clock()
        plan, cut = lifecycle_plan(
            nodes,
            self.tracker,
            for_one_pass(self._presence),
            now,
            self.settings,
            self._cache.revision,
            self._stalled,
        )
        try:
            self._planner.submit(plan)
        except PlanConflict as exc:
            # A heartbeat wrote the node meanwhile: it is alive; look again next tick.
            log.debug("node lifecycle plan conflicted: %s", exc)
            return
        nodes = self._cache.refresh()
        self.tracker.note_changed(self._cache.changed)
        note_applied(self.tracker, cut, nodes, plan)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.node_tick):
            try:
                self.node_pass()
            except Exception:
                log.exception("node lifecycle pass failed")


class ControllerManager:
    """Starts, runs and stops the store-driven controllers over one store, and the node
    lifecycle too when given the ``presence`` of this process's heartbeats."""

    def __init__(
        self,
        database: Database,
        fleet: LiveFleet,
        presence: LastSeen | None,
        settings: ControllerSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        stalled: Stalls | None = None,
    ) -> None:
        self.settings = settings or ControllerSettings()
        self._database = database
        self._clock = clock or database.clock
        self.lifecycle = (
            None
            if presence is None
            else NodeLifecycle(database, presence, self.settings, self._clock, stalled)
        )
        self._stop = threading.Event()
        self._waiter = FeedWaiter(database, poll=self.settings.feed_poll)
        self._view_cache = NodeCache(database, joined_only=True)  # nothing runs on pending
        self._views_lock = threading.Lock()
        self._node_keys: dict[str, _NodeKey] | None = None
        self._down = DownClock()
        self._troubled = False  # some node is suspect or down (lost_after runs on time)
        self._planner = StorePlanner(database)
        self.workloads = WorkloadController(
            fleet.view,
            self._node_views,
            self._planner,
            self._clock,
            EventThrottle(self.settings.event_throttle),
            node_versions=self._node_versions,
            resync=self.settings.resync,
        )
        self._threads: list[threading.Thread] = []
        # Operations (docs/operations.md): rollbacks, the autoscaler, drain completion events.
        # They and the alert rules share one mirror of the fleet that follows the change feed,
        # so a pass reads only what changed (store/mirror.py).
        self.mirror = FeedMirror(database)
        self.rollouts = RolloutController(database, self.mirror)
        self.autoscaler = Autoscaler(database, self._clock, self.mirror)
        self.drains = DrainWatcher(database, self.mirror)
        # Migrations, evacuation of draining nodes (controllers/migrations.py): own thread.
        self.migrations = MigrationLoop(
            MigrationController(database, self._clock, fleet.view), tick=0.5
        )
        # Alert rules (alerts/engine.py): own thread; a refused webhook URL raises here.
        self.alerts = AlertEngine(
            database, AlertSettings.from_env(), self._clock, mirror=self.mirror
        )

    def _node_versions(self) -> dict[str, int]:
        with self._views_lock:
            return {nid: n.metadata.resource_version for nid, n in self._view_cache.nodes.items()}

    def _node_views(self) -> Mapping[str, NodeView]:
        with self._views_lock:
            views = self._down.views(self._view_cache.refresh(), self._clock())
        self._troubled = any(v.state in (NodeState.SUSPECT, NodeState.DOWN) for v in views.values())
        return views

    def node_pass(self) -> None:
        """One node-lifecycle pass (only with a presence)."""
        if self.lifecycle is None:
            raise RuntimeError("this manager runs without the node lifecycle (no presence)")
        self.lifecycle.node_pass()

    def start(self) -> None:
        """Start the threads."""
        if self.lifecycle is not None:
            self.lifecycle.start()
        for name, target in (
            ("workloads", self._workload_loop),
            ("operations", self._operations_loop),
        ):
            thread = threading.Thread(target=target, name=f"edgeorch-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.migrations.start()
        self.alerts.start()
        log.info("controllers started (workloads, operations, migrations, alerts)")

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the threads to stop and wait for them."""
        self._stop.set()
        self._waiter.poke()
        if self.lifecycle is not None:
            self.lifecycle.stop(timeout)
        self.migrations.stop(timeout)
        self.alerts.stop(timeout)
        for thread in self._threads:
            thread.join(timeout)
        self._waiter.close()

    # -- workloads -----------------------------------------------------------------------------

    def operations_pass(self) -> None:
        """One pass of the operations controllers: roll back failed rollouts, autoscale,
        notice drained nodes (each writes with compare-and-swap on its own)."""
        self.rollouts.run_once()
        self.autoscaler.run_once()
        self.drains.run_once()

    def _operations_loop(self) -> None:
        # Time-driven (cool-downs, deadlines) as much as change-driven: a fixed short tick.
        while not self._stop.wait(OPERATIONS_TICK):
            try:
                self.operations_pass()
            except Exception:
                log.exception("operations pass failed")

    def _wait_for_work(self, since: int, timeout: float) -> None:
        """Wait until a change the reconciler must look at, or ``timeout``.

        Most changes on a large fleet are node-status writes by heartbeats (utilization, the
        instance count, the periodic refresh): they change nothing a pass acts on at once, and
        a pass costs O(fleet) (176 ms at 10,000 nodes and workloads). Such changes are skipped
        here; the next pass still sees them (an unplaceable workload that a lower reported
        utilization would now fit is retried on its backoff, at most a minute later)."""
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._waiter.wait(since, remaining, _FEED_KINDS):
                return
            quiet_until = self._quiet_node_writes(since)
            if quiet_until is None:
                return
            since = quiet_until

    def _quiet_node_writes(self, since: int) -> int | None:
        """The revision up to which every change after ``since`` is a node write that leaves
        the node's state, scheduling and spec as they were; None if any change is more."""
        with self._database.session() as session:
            changes = list_changes(session=session, since=since, kinds=_FEED_KINDS, limit=_SKIM)
        if not changes or len(changes) >= _SKIM or any(c.kind != "Node" for c in changes):
            return None
        with self._views_lock:
            nodes = self._view_cache.refresh()
        if self._node_keys is None:  # the first look: remember every node, skip nothing
            keys = {nid: _node_key(n) for nid, n in nodes.items()}
            self._node_keys = {nid: k for nid, k in keys.items() if k is not None}
            return None
        quiet = True
        for node_id in {c.object_id for c in changes}:
            key = _node_key(nodes.get(node_id))
            if self._node_keys.get(node_id) != key:
                quiet = False
            if key is None:
                self._node_keys.pop(node_id, None)
            else:
                self._node_keys[node_id] = key
        return changes[-1].revision if quiet else None

    def _workload_loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.workloads.run_once()
            except Exception:
                log.exception("workload reconcile pass failed")
            ended = time.monotonic()
            # Batch bursts of changes, and keep this thread's share of the GIL (which the API's
            # request threads need) under 1 / (1 + PASS_PACING): a pass of 0.4 s rests 1.2 s.
            # The rest counts from the end of the pass, not from the next change, so a change
            # that comes after a quiet spell is handled at once (bench/agent_ingress.py).
            rest_until = ended + max(_MIN_PASS_INTERVAL, PASS_PACING * (ended - started))
            timeout = self.settings.resync
            if self._troubled:
                timeout = min(timeout, 1.0)
            if self.workloads.rolling:  # progress deadlines are time, not changes
                timeout = min(timeout, ROLLOUT_TICK)
            if not self.workloads.backlog:
                self._wait_for_work(self.workloads.last_revision, timeout)
            rest = rest_until - time.monotonic()
            if rest > 0:
                self._stop.wait(rest)
