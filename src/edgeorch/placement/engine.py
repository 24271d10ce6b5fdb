"""Entry points for one request (:func:`analyze`) and for many (:func:`place_batch`).

Both run filter -> score -> select over a :class:`FleetSnapshot` and return data. ``analyze``
never changes the snapshot (it reserves on a fork when it places several replicas); ``place_batch``
reserves on the snapshot as it goes, so no node is over-committed within or across requests, and
returns the reservations so the caller can release them (``dry_run`` works on a fork instead).
Randomness (tie-breaks) is seeded from the request id, so a decision can be replayed.
"""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgeorch.observability.metrics import MODE_DRY_RUN, MODE_PLACE, observe_decision
from edgeorch.placement.context import Context
from edgeorch.placement.explain import Assignment, Candidate, Decision, FilterCount, Hint
from edgeorch.placement.framework import Evaluation
from edgeorch.placement.plugins import default_filters, default_scores
from edgeorch.placement.snapshot import FleetSnapshot, Reservation
from edgeorch.schemas.workload import PlacementWeights, WorkloadSpec


@dataclass(frozen=True)
class PlacementRequest:
    """Place ``replicas`` new replicas of ``spec`` (None: the spec's desired count minus those
    already booked for ``workload_id``). ``weights`` override the spec's for this request."""

    spec: WorkloadSpec
    workload_id: str = ""
    replicas: int | None = None
    weights: PlacementWeights | None = None
    request_id: str = ""


@dataclass(frozen=True)
class BatchResult:
    """Decisions in request order and the reservations made for them."""

    decisions: tuple[Decision, ...]
    reservations: tuple[Reservation, ...]
    elapsed_ms: float

    @property
    def placed(self) -> int:
        """Replicas placed over all requests."""
        return sum(d.placed for d in self.decisions)

    @property
    def requested(self) -> int:
        """Replicas asked for over all requests."""
        return sum(d.requested for d in self.decisions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "decisions": [d.to_dict() for d in self.decisions],
            "reservations": [asdict(r) for r in self.reservations],
            "placed": self.placed,
            "requested": self.requested,
            "elapsed_ms": self.elapsed_ms,
        }


def seed_from(request_id: str) -> int:
    """A stable 64-bit seed from a request id (``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=8).digest(), "big")


def analyze(
    snapshot: FleetSnapshot,
    spec: WorkloadSpec,
    *,
    workload_id: str = "",
    replicas: int | None = None,
    weights: PlacementWeights | None = None,
    top_k: int = 10,
    request_id: str = "",
) -> Decision:
    """Where would ``replicas`` replicas of ``spec`` go, and why. Does not change ``snapshot``."""
    req = PlacementRequest(spec, workload_id, replicas, weights, request_id)
    want = _wanted(snapshot, req)
    ledger = snapshot.fork() if want > 1 else snapshot
    decision, _ = _place(ledger, req, want, top_k=top_k, keep=False)
    observe_decision(decision, MODE_DRY_RUN)
    return decision


def place_batch(
    snapshot: FleetSnapshot,
    requests: Sequence[PlacementRequest],
    *,
    top_k: int = 3,
    dry_run: bool = False,
) -> BatchResult:
    """Place every request in order, reserving as it goes; ``dry_run`` reserves on a fork."""
    start = time.perf_counter()
    ledger = snapshot.fork() if dry_run else snapshot
    decisions: list[Decision] = []
    held: list[Reservation] = []
    for req in requests:
        decision, made = _place(ledger, req, _wanted(ledger, req), top_k=top_k, keep=True)
        decisions.append(decision)
        held.extend(made)
        observe_decision(decision, MODE_DRY_RUN if dry_run else MODE_PLACE)
    elapsed = (time.perf_counter() - start) * 1000.0
    return BatchResult(tuple(decisions), tuple(held), elapsed)


def _wanted(snapshot: FleetSnapshot, req: PlacementRequest) -> int:
    if req.replicas is not None:
        return max(0, req.replicas)
    spec = req.spec
    desired = (
        spec.replicas if spec.replicas is not None else (spec.scaling.min if spec.scaling else 1)
    )
    existing = sum(snapshot.placed.get(req.workload_id, {}).values()) if req.workload_id else 0
    return max(0, desired - existing)


def _place(
    ledger: FleetSnapshot, req: PlacementRequest, want: int, *, top_k: int, keep: bool
) -> tuple[Decision, list[Reservation]]:
    start = time.perf_counter()
    ctx = Context(ledger, req.spec, req.workload_id, req.weights)
    ev = Evaluation(ctx, default_filters(), default_scores())
    filters = tuple(FilterCount(*c) for c in ev.filter_counts())
    feasible = int(ev.feasible.sum())
    candidates = tuple(_candidate(ev, int(r)) for r in ev.top(top_k))
    rng = np.random.default_rng(seed_from(req.request_id or req.workload_id))
    assignments: list[Assignment] = []
    made: list[Reservation] = []
    for i in range(want):
        row = ev.select(rng)
        if row is None:
            break
        assignments.append(Assignment(i, str(ledger.ids[row]), float(ev.total[row]), _rtt(ev, row)))
        if keep or i + 1 < want:
            made.append(ledger.reserve(row, req.workload_id, ctx.request))
            ev.after_reserve(row)
    blocking, hints = _hints(ev) if len(assignments) < want else ((), ())
    return Decision(
        request_id=req.request_id,
        workload_id=req.workload_id,
        requested=want,
        assignments=tuple(assignments),
        candidates=candidates,
        filters=filters,
        feasible_nodes=feasible,
        total_nodes=ledger.live_count,
        weights=ctx.weight_map,
        decision_ms=(time.perf_counter() - start) * 1000.0,
        notes=tuple(dict.fromkeys(ctx.notes)),
        blocking=blocking,
        hints=hints,
    ), made


def _rtt(ev: Evaluation, row: int) -> float | None:
    return float(ev.ctx.rtt_avg[row]) if ev.ctx.populations is not None else None


def _candidate(ev: Evaluation, row: int) -> Candidate:
    ctx = ev.ctx
    pops = ctx.populations is not None
    return Candidate(
        node_id=str(ctx.snap.ids[row]),
        score=float(ev.total[row]),
        terms={name: float(term[row]) for name, term in ev.terms.items()},
        latency_ms=float(ctx.rtt_avg[row]) if pops else None,
        worst_latency_ms=float(ctx.rtt_max[row]) if pops else None,
        cost_per_hour=float(ctx.snap.cost[row]),
    )


def _hints(ev: Evaluation) -> tuple[tuple[str, ...], tuple[Hint, ...]]:
    """Relax one filter at a time on the current state; report the ones that free nodes."""
    if not ev.alive.any():
        return ("fleet",), (Hint("fleet", 0, "the fleet has no nodes"),)
    hints: list[Hint] = []
    for plugin, rescued in ev.blocking():
        count = int(rescued.sum())
        if count:
            message = plugin.hint(ev.ctx, rescued) or (
                f"{count} nodes would fit without the {plugin.name} constraint"
            )
            hints.append(Hint(plugin.name, count, message))
    if hints:
        return tuple(h.constraint for h in hints), tuple(hints)
    removing = tuple(f.name for f in ev.filters if (ev.alive & ~ev.masks[f.name]).any())
    message = (
        "no single constraint, relaxed alone, makes a node feasible; every node fails two or "
        f"more of: {', '.join(removing)}"
    )
    return removing, (Hint("combined", 0, message),)
