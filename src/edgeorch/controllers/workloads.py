"""The workload controller: reconcile every workload whenever the change feed moves.

One pass: read the live fleet view (kept in step with the feed), sort each workload's instances
into buckets (``reconcile.py``), place what is missing (``decide.py``) and submit the plan with
compare-and-swap (``planner.py``); a lost race means a fresh pass. Unplaceable replicas produce a
``PlacementFailed`` Warning, at most once per ``event_throttle`` seconds per workload unless the
reason changes.
"""

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime

from edgeorch.controllers.decide import Decided, Unplaceable, decide
from edgeorch.controllers.plan import Plan, RecordEvent
from edgeorch.controllers.planner import Planner, submit_with_retry
from edgeorch.controllers.reconcile import Buckets, NodeView, reconcile_workload
from edgeorch.placement.live import FleetView
from edgeorch.schemas.instance import Instance


def reconcile_all(view: FleetView, nodes: Mapping[str, NodeView], now: datetime) -> list[Buckets]:
    """Buckets for every workload in ``view``, in a stable order."""
    by_workload: dict[str, list[Instance]] = defaultdict(list)
    for inst in view.instances.values():
        by_workload[inst.spec.workload_id].append(inst)
    return [
        reconcile_workload(view.workloads[wid], by_workload.get(wid, []), nodes, now)
        for wid in sorted(view.workloads)
    ]


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
        """Forget workloads that are fully placed again, so a new failure is reported at once."""
        for wid in list(self._last):
            if wid not in workload_ids:
                del self._last[wid]


class WorkloadController:
    """One reconcile pass at a time over the whole fleet."""

    def __init__(
        self,
        fleet: Callable[[], FleetView],
        nodes: Callable[[], Mapping[str, NodeView]],
        planner: Planner,
        clock: Callable[[], datetime],
        throttle: EventThrottle,
    ) -> None:
        self._fleet = fleet
        self._nodes = nodes
        self._planner = planner
        self._clock = clock
        self._throttle = throttle
        self.last_revision = 0

    def decide_once(self) -> Decided:
        """A plan from a fresh view (no writes)."""
        view = self._fleet()
        self.last_revision = view.revision
        buckets = reconcile_all(view, self._nodes(), self._clock())
        return decide(buckets, view.snapshot, revision=view.revision)

    def run_once(self) -> int:
        """Decide and submit (retrying on conflicts); returns the committed revision or 0."""

        warned: list[Unplaceable] = []

        def plan() -> Plan:
            decided = self.decide_once()
            self._throttle.placed({u.workload_id for u in decided.unplaceable})
            warned[:] = [u for u in decided.unplaceable if self._throttle.allow(u)]
            events = tuple(_warning(u) for u in warned)
            return Plan(decided.plan.revision, decided.plan.ops + events)

        revision = submit_with_retry(plan, self._planner)
        self._throttle.recorded(warned)
        return revision


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
