"""The workload controller: reconcile the workloads the change feed touched.

One pass: read the live fleet view (kept in step with the feed), sort the instances of each
workload that needs a look into buckets (``reconcile.py``), place what is missing
(``decide.py``) and submit the plan with compare-and-swap (``planner.py``); a lost race means a
fresh pass. Unplaceable replicas produce a ``PlacementFailed`` Warning, at most once per
``event_throttle`` seconds per workload unless the reason changes.

A pass costs what changed, not the size of the fleet (a pass over all of 10,000 stored workloads
took 13.7 s, docs/benchmarks.md, holding the GIL against the API's request threads on every
change). A workload needs a look when, since the last committed pass:

- it, or one of its instances, changed, appeared or went away;
- a node it has instances on changed (health, intent, spec, a persisted heartbeat);
- one of its instances sits on a ``suspect`` or ``down`` node (``lost_after`` deadlines are
  time, not changes), or its rollout is progressing (progress deadlines);
- a full resync is due (every ``resync`` seconds, the safety net).

Workloads whose replicas could not be placed wait in a backoff (1 s doubling to 60 s, like
Kubernetes' unschedulable queue) instead of being tried on every pass: a full resync skips them,
and they are retried when their backoff ends or when capacity may have appeared (a node changed
or an instance went away), at most ``RETRIES_PER_PASS`` per pass, the longest-waiting first.
A change to the workload or its own instances always gets it a look at once.
"""

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from edgeorch.controllers.decide import Decided, Unplaceable, decide
from edgeorch.controllers.plan import Plan, RecordEvent
from edgeorch.controllers.planner import Planner, submit_with_retry
from edgeorch.controllers.reconcile import Buckets, NodeView, reconcile_workload
from edgeorch.domain.enums import NodeState
from edgeorch.placement.live import FleetView
from edgeorch.schemas.instance import Instance

RETRIES_PER_PASS = 200
# A pass's plan is one write transaction, which holds SQLite's single write lock against the
# API's writes; beyond this many workloads, the rest wait for the next pass (which comes at once).
MAX_WORKLOADS_PER_PASS = 500
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
DEFAULT_RESYNC = 30.0
_TROUBLED = (NodeState.SUSPECT, NodeState.DOWN)


def reconcile_all(
    view: FleetView,
    nodes: Mapping[str, NodeView],
    now: datetime,
    only: set[str] | None = None,
) -> list[Buckets]:
    """Buckets for every workload in ``view`` (or those in ``only``), in a stable order."""
    by_workload: dict[str, list[Instance]] = defaultdict(list)
    for inst in view.instances.values():
        by_workload[inst.spec.workload_id].append(inst)
    ids = sorted(view.workloads if only is None else only & view.workloads.keys())
    return [
        reconcile_workload(view.workloads[wid], by_workload.get(wid, []), nodes, now) for wid in ids
    ]


@dataclass
class _Backoff:
    attempts: int
    due: datetime
    epoch: int  # the capacity epoch of the last attempt


@dataclass
class _Seen:
    """What the last committed pass saw: resource versions and node views."""

    workloads: dict[str, int]
    instances: dict[str, tuple[int, str, str | None]]  # version, workload, node
    nodes: dict[str, tuple[NodeView, int]]


@dataclass(frozen=True)
class _Look:
    """The workloads one pass looks at, and what the pass learned to remember if it commits."""

    workloads: set[str]
    seen: _Seen
    capacity_changed: bool
    full: bool
    deferred: frozenset[str] = frozenset()


class EventThrottle:
    """Lets an unplaceable warning through when new, changed, or ``interval`` seconds old."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, tuple[tuple[object, ...], float]] = {}

    def allow(self, item: Unplaceable) -> bool:
        """Whether a warning for ``item`` is due now."""
        seen = self._last.get(item.workload_id)
        key = (item.missing, item.decision.blocking)
        return seen is None or seen[0] != key or self._clock() - seen[1] >= self._interval

    def recorded(self, items: list[Unplaceable]) -> None:
        """Note that warnings for ``items`` were committed."""
        now = self._clock()
        for item in items:
            self._last[item.workload_id] = ((item.missing, item.decision.blocking), now)

    def placed(self, workload_ids: set[str]) -> None:
        """Forget these workloads (fully placed again), so a new failure is reported at once."""
        for wid in workload_ids:
            self._last.pop(wid, None)


class WorkloadController:
    """One reconcile pass at a time over the workloads that need a look."""

    def __init__(
        self,
        fleet: Callable[[], FleetView],
        nodes: Callable[[], Mapping[str, NodeView]],
        planner: Planner,
        clock: Callable[[], datetime],
        throttle: EventThrottle,
        *,
        node_versions: Callable[[], Mapping[str, int]] | None = None,
        resync: float = DEFAULT_RESYNC,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fleet = fleet
        self._nodes = nodes
        self._node_versions = node_versions or dict
        self._planner = planner
        self._clock = clock
        self._throttle = throttle
        self._resync = resync
        self._monotonic = monotonic
        self._seen: _Seen | None = None
        self._last_full = 0.0
        self._epoch = 0
        self._unplaced: dict[str, _Backoff] = {}
        self._deferred: frozenset[str] = frozenset()
        self.last_revision = 0
        self.last_looked = 0  # workloads looked at by the last pass (tests, metrics)
        self.rolling = 0  # workloads whose rollout was progressing at the last pass

    def decide_once(self) -> Decided:
        """A plan over every workload from a fresh view (no writes; nothing remembered)."""
        view = self._fleet()
        self.last_revision = view.revision
        buckets = reconcile_all(view, self._nodes(), self._clock())
        return decide(buckets, view.snapshot, revision=view.revision)

    def run_once(self) -> int:
        """Decide and submit (retrying on conflicts); returns the committed revision or 0."""

        warned: list[Unplaceable] = []
        looked: list[_Look] = []
        outcome: list[Decided] = []

        def plan() -> Plan:
            view = self._fleet()
            self.last_revision = view.revision
            nodes = self._nodes()
            now = self._clock()
            look = self._look(view, nodes, now)
            buckets = reconcile_all(view, nodes, now, look.workloads)
            decided = decide(buckets, view.snapshot, revision=view.revision)
            looked[:] = [look]
            outcome[:] = [decided]
            failed = {u.workload_id for u in decided.unplaceable}
            self._throttle.placed(look.workloads - failed)
            warned[:] = [u for u in decided.unplaceable if self._throttle.allow(u)]
            events = tuple(_warning(u) for u in warned)
            return Plan(decided.plan.revision, decided.plan.ops + events)

        revision = submit_with_retry(plan, self._planner)
        self._throttle.recorded(warned)
        if looked:
            self._remember(looked[0], outcome[0])
        return revision

    # -- which workloads need a look -------------------------------------------------------------

    def _look(self, view: FleetView, nodes: Mapping[str, NodeView], now: datetime) -> _Look:
        versions = self._node_versions()
        prev = self._seen
        full = prev is None or self._monotonic() - self._last_full >= self._resync
        seen = _Seen(
            workloads={wid: w.metadata.resource_version for wid, w in view.workloads.items()},
            instances={
                iid: (i.metadata.resource_version, i.spec.workload_id, i.spec.node_id)
                for iid, i in view.instances.items()
            },
            nodes={nid: (nv, versions.get(nid, -1)) for nid, nv in nodes.items()},
        )
        changed: set[str] = set()
        capacity = False
        on_node: dict[str, set[str]] = defaultdict(set)
        for _, wid, node_id in seen.instances.values():
            if node_id is not None:
                on_node[node_id].add(wid)
        rolling = 0
        for wid, w in view.workloads.items():
            rollout = w.status.rollout
            if rollout is not None and rollout.state == "progressing":
                changed.add(wid)
                rolling += 1
        self.rolling = rolling
        for nid, (nv, _) in seen.nodes.items():
            if nv.state in _TROUBLED:
                changed |= on_node.get(nid, set())
        if prev is not None:
            for wid, version in seen.workloads.items():
                if prev.workloads.get(wid) != version:
                    changed.add(wid)
            for iid, inst in seen.instances.items():
                if prev.instances.get(iid) != inst:
                    changed.add(inst[1])
            for iid in prev.instances.keys() - seen.instances.keys():
                changed.add(prev.instances[iid][1])
                capacity = True
            for nid, node in seen.nodes.items():
                if prev.nodes.get(nid) != node:
                    changed |= on_node.get(nid, set())
                    capacity = True
            if prev.nodes.keys() - seen.nodes.keys():
                capacity = True
        workloads = changed & seen.workloads.keys()
        if full:
            workloads |= {wid for wid in seen.workloads if wid not in self._unplaced}
        epoch = self._epoch + 1 if capacity else self._epoch
        retry = sorted(
            (
                (b.due, wid)
                for wid, b in self._unplaced.items()
                if wid not in workloads and (b.due <= now or b.epoch < epoch)
            ),
        )
        workloads |= {wid for _, wid in retry[:RETRIES_PER_PASS]}
        workloads |= self._deferred & seen.workloads.keys()
        deferred: frozenset[str] = frozenset()
        if len(workloads) > MAX_WORKLOADS_PER_PASS:
            # Those deferred last time first, then in id order: every workload gets its turn.
            ordered = sorted(workloads, key=lambda wid: (wid not in self._deferred, wid))
            workloads = set(ordered[:MAX_WORKLOADS_PER_PASS])
            deferred = frozenset(ordered[MAX_WORKLOADS_PER_PASS:])
        self.last_looked = len(workloads)
        return _Look(workloads, seen, capacity, full, deferred)

    @property
    def backlog(self) -> int:
        """Workloads that need a look but were left for the next pass."""
        return len(self._deferred)

    def _remember(self, look: _Look, decided: Decided) -> None:
        """The pass committed: remember what it saw, and back off what it could not place."""
        self._seen = look.seen
        self._deferred = look.deferred
        if look.full:
            self._last_full = self._monotonic()
        if look.capacity_changed:
            self._epoch += 1
        now = self._clock()
        failed = {u.workload_id for u in decided.unplaceable}
        for wid in look.workloads:
            if wid not in failed:
                self._unplaced.pop(wid, None)
                continue
            attempts = self._unplaced[wid].attempts + 1 if wid in self._unplaced else 1
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempts - 1))
            self._unplaced[wid] = _Backoff(attempts, now + timedelta(seconds=delay), self._epoch)
        for wid in self._unplaced.keys() - look.seen.workloads.keys():
            del self._unplaced[wid]


def _warning(item: Unplaceable) -> RecordEvent:
    return RecordEvent(
        tenant=item.tenant,
        kind="Workload",
        object_id=item.workload_id,
        name=item.name,
        reason="PlacementFailed",
        message=item.message(),
        type="Warning",
    )
