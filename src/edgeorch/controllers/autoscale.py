"""The autoscaler: ``spec.scaling`` (min, max, a CPU or request-rate target) → replica count.

The rule is Kubernetes' HPA rule::

    ratio   = observed / target
    desired = ceil(current * ratio), clamped to [min, max]

- ``observed`` CPU: the mean over running instances that reported usage of
  ``cpu_cores / resources.cpu * 100`` (% of the requested CPU); agents measure it
  (``agent/health.py``: process tree via psutil, wasm guest time, the simulator's model).
- ``observed`` request rate: requests per second per running replica over the last
  :data:`RATE_WINDOW` seconds of recorded telemetry (``store/sql/telemetry.py``), lagged by
  :data:`RATE_LAG` so the buckets are complete.
- **Tolerance**: nothing changes while ``|ratio - 1| <= scaling.tolerance`` (10 %, HPA's).
- **Cool-downs**: no scale-up within ``cooldown_seconds`` (60 s) of the last scaling, no
  scale-down within ``scale_down_cooldown_seconds`` (300 s, HPA's stabilisation window), both
  counted from ``status.last_scaled_at``, so a burst never makes the count flap.
- With both targets, the larger desired count wins (HPA's rule for several metrics).

The decision (:func:`autoscale`) is pure; :class:`Autoscaler` reads, decides, and writes
``status.desired_replicas``/``last_scaled_at`` with compare-and-swap and a ``ScaledUp`` /
``ScaledDown`` event naming the observed value, in one transaction. The workload controller then
places the new replicas with the placement engine, which scores nodes by latency to the
workload's users (``placement.users``): new replicas go near the demand.
"""

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from edgeorch.controllers.reconcile import desired_replicas
from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.event import InvolvedObject
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.workload import Workload
from edgeorch.store import (
    Conflict,
    Database,
    NotFound,
    create_event,
    update_workload_status,
)
from edgeorch.store.mirror import FeedMirror
from edgeorch.store.sql.telemetry import request_totals

log = logging.getLogger("edgeorch.controllers")
RATE_WINDOW = 60.0  # seconds of request telemetry averaged for a request-rate target
RATE_LAG = 20.0  # seconds: the newest telemetry bucket may not be complete or flushed yet


@dataclass(frozen=True)
class Observed:
    """What the autoscaler measured of one workload."""

    cpu_utilization: float | None = None  # % of requested CPU, mean over reporting replicas
    requests_per_second: float | None = None  # per running replica


@dataclass(frozen=True)
class ScaleDecision:
    """Scale ``workload`` from ``current`` to ``desired`` replicas, and why."""

    workload: Workload
    current: int
    desired: int
    reason: str  # ScaledUp | ScaledDown
    message: str


def observe_cpu(workload: Workload, instances: Sequence[Instance]) -> float | None:
    """Mean CPU use of the running replicas that reported it, in % of the request."""
    request = workload.spec.resources.cpu
    samples = [
        i.status.cpu_cores / request * 100.0
        for i in instances
        if i.spec.desired_state == "running"
        and i.status.state is InstanceState.RUNNING
        and i.status.cpu_cores is not None
    ]
    if not samples or request <= 0:
        return None
    return sum(samples) / len(samples)


def _wanted(current: int, observed: float | None, target: float | None, tolerance: float) -> int:
    if observed is None or target is None:
        return current
    ratio = observed / target
    if abs(ratio - 1.0) <= tolerance:
        return current
    return max(1, math.ceil(current * ratio)) if current > 0 else 1


def autoscale(workload: Workload, observed: Observed, now: datetime) -> ScaleDecision | None:
    """The scaling decision for ``workload`` now, or None (see the module docstring)."""
    scaling = workload.spec.scaling
    if scaling is None:
        return None
    current = desired_replicas(workload)
    wants = [
        _wanted(
            current, observed.cpu_utilization, scaling.target_cpu_utilization, scaling.tolerance
        ),
        _wanted(
            current,
            observed.requests_per_second,
            scaling.target_requests_per_second,
            scaling.tolerance,
        ),
    ]
    targeted = [w for w, t in zip(wants, _targets(workload), strict=True) if t]
    if not targeted:
        return None
    desired = min(max(max(targeted), scaling.min), scaling.max)
    if desired == current:
        return None
    up = desired > current
    cooldown = scaling.cooldown_seconds if up else scaling.scale_down_cooldown_seconds
    last = workload.status.last_scaled_at
    if last is not None and (now - last).total_seconds() < cooldown:
        return None
    what = _describe(workload, observed)
    verb = "up" if up else "down"
    message = f"scaled {verb} from {current} to {desired} replica(s): {what}"
    return ScaleDecision(workload, current, desired, "ScaledUp" if up else "ScaledDown", message)


def _targets(workload: Workload) -> tuple[bool, bool]:
    scaling = workload.spec.scaling
    assert scaling is not None
    return (
        scaling.target_cpu_utilization is not None,
        scaling.target_requests_per_second is not None,
    )


def _describe(workload: Workload, observed: Observed) -> str:
    scaling = workload.spec.scaling
    assert scaling is not None
    parts = []
    if scaling.target_cpu_utilization is not None and observed.cpu_utilization is not None:
        parts.append(
            f"CPU {observed.cpu_utilization:.0f}% of request "
            f"(target {scaling.target_cpu_utilization:g}%)"
        )
    if scaling.target_requests_per_second is not None and observed.requests_per_second is not None:
        parts.append(
            f"{observed.requests_per_second:.1f} requests/s per replica "
            f"(target {scaling.target_requests_per_second:g})"
        )
    return ", ".join(parts) or "no measurement"


class Autoscaler:
    """Decides for the autoscaled workloads, writes (compare-and-swap per workload).

    Works from a :class:`~edgeorch.store.mirror.FeedMirror` and decides again only for
    the workloads that can have a new answer: those changed since the previous pass (the
    workload, or one of its instances: their CPU use), those with a request-rate target (new
    telemetry is not in the change feed; their rates come from one aggregate query), and those
    whose cool-down just ended (time alone ends it). An idle pass costs one change-feed
    query."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        mirror: FeedMirror | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        self._mirror = mirror or FeedMirror(database)
        self._seen = -1
        self._scaled: set[str] = set()  # autoscaled workload ids
        self._rated: set[str] = set()  # those with a request-rate target
        self._wake: dict[str, datetime] = {}  # inside a cool-down: when the next one ends

    def run_once(self) -> list[ScaleDecision]:
        """One pass; returns the decisions that were committed."""
        now = self._clock()
        done = []
        for workload, observed in self._observe(now):
            decision = autoscale(workload, observed, now)
            if decision is not None and self._apply(decision, observed, now):
                done.append(decision)
        return done

    def _due(self, now: datetime) -> list[Workload]:
        """The autoscaled workloads to decide for now, by name (the caller holds the lock)."""
        mirror = self._mirror
        mirror.refresh()
        changes = mirror.changes_since(self._seen)
        self._seen = mirror.revision
        if changes is None:
            changed: set[str] = set(mirror.workloads)
        else:
            changed = changes.workloads | changes.instance_workloads
        for workload_id in changed:
            workload = mirror.workloads.get(workload_id)
            scaling = None if workload is None else workload.spec.scaling
            if scaling is None:
                self._scaled.discard(workload_id)
                self._rated.discard(workload_id)
                continue
            self._scaled.add(workload_id)
            if scaling.target_requests_per_second is not None:
                self._rated.add(workload_id)
            else:
                self._rated.discard(workload_id)
        woken = {i for i, at in self._wake.items() if at <= now}
        due = (changed & self._scaled) | self._rated | woken
        for workload_id in due | (self._wake.keys() - self._scaled):
            self._wake.pop(workload_id, None)
            if workload_id in self._scaled:
                end = _cooldown_end(mirror.workloads[workload_id], now)
                if end is not None:
                    self._wake[workload_id] = end
        return sorted(
            (mirror.workloads[i] for i in due if i in self._scaled), key=lambda w: w.metadata.name
        )

    def _observe(self, now: datetime) -> list[tuple[Workload, Observed]]:
        with self._mirror.lock:
            due = [(w, self._mirror.instances_of(w.metadata.id)) for w in self._due(now)]
        rates: dict[str, int] = {}
        if any(w.metadata.id in self._rated for w, _ in due):
            with self._database.session() as session:
                rates = _requests_by_workload(session, now)
        out = []
        for w, instances in due:
            cpu = observe_cpu(w, instances)
            rate = None
            if w.metadata.id in self._rated:
                rate = _request_rate(rates.get(w.metadata.id, 0), instances)
            out.append((w, Observed(cpu_utilization=cpu, requests_per_second=rate)))
        return out

    def _apply(self, decision: ScaleDecision, observed: Observed, now: datetime) -> bool:
        w = decision.workload
        status = w.status.model_copy(
            update={
                "desired_replicas": decision.desired,
                "last_scaled_at": now,
                "observed_cpu_utilization": observed.cpu_utilization,
            }
        )
        try:
            with self._database.write() as session:
                update_workload_status(
                    session=session,
                    workload_id=w.metadata.id,
                    status=status,
                    expected_version=w.metadata.resource_version,
                )
                create_event(
                    session=session,
                    tenant=w.metadata.tenant,
                    type="Normal",
                    reason=decision.reason,
                    message=f"workload {w.metadata.name} {decision.message}",
                    involved=InvolvedObject(
                        kind="Workload", id=w.metadata.id, name=w.metadata.name
                    ),
                )
        except (Conflict, NotFound) as exc:
            log.debug(
                "autoscale of %s lost a race; next pass decides again: %s", w.metadata.name, exc
            )
            return False
        log.info("workload %s %s", w.metadata.name, decision.message)
        return True


def _cooldown_end(workload: Workload, now: datetime) -> datetime | None:
    """The next end of a cool-down of ``workload`` after ``now`` (a decision it holds back may
    be taken then), or None when no cool-down holds anything back any more."""
    scaling, last = workload.spec.scaling, workload.status.last_scaled_at
    if scaling is None or last is None:
        return None
    ends = (
        last + timedelta(seconds=seconds)
        for seconds in (scaling.cooldown_seconds, scaling.scale_down_cooldown_seconds)
    )
    return min((end for end in ends if end > now), default=None)


def _requests_by_workload(session: Session, now: datetime) -> dict[str, int]:
    """Requests per workload id in the rate window (one aggregate query for all workloads)."""
    until = now - timedelta(seconds=RATE_LAG)
    totals = request_totals(
        session=session,
        since=until - timedelta(seconds=RATE_WINDOW),
        until=until,
        by="workload",
    )
    out: dict[str, int] = {}
    for t in totals:  # keyed by (tenant, workload id, name): sum per id
        out[t.key[1]] = out.get(t.key[1], 0) + t.requests
    return out


def _request_rate(requests: int, instances: list[Instance]) -> float | None:
    running = sum(
        1
        for i in instances
        if i.spec.desired_state == "running" and i.status.state is InstanceState.RUNNING
    )
    if running == 0:
        return None
    return requests / RATE_WINDOW / running
