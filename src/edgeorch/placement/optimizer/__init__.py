"""The global optimiser: re-assign many workloads' replicas to nodes at once.

Model (names as in the code)::

    sets      W workloads, N nodes, P = allowed (w, j) pairs (every static filter passed and
              one replica fits node j's usable capacity)
    data      R_w replicas wanted       q_wk per-replica request of resource k
              F_jk usable capacity of node j left by instances outside the model
              S_j instance slots left (max_edge_vms_per_node minus outside instances)
              K_w per-node cap of w     c_wj per-replica cost (weighted 1 - score terms)
              cur_wj replicas of w on j now    mu move cost    M unplaced cost
    variables x_wj in Z, 0 <= x_wj <= min(R_w, K_w, S_j)   replicas of w on j
              u_w >= 0    replicas of w left unplaced
              m_wj >= 0   replicas of w moved off j (only where cur_wj > 0)
              t_w >= 0    emptiest-domain count of w (hard spread only)
    minimise  sum c_wj x_wj + M sum u_w + mu sum m_wj
    s.t.      sum_j x_wj + u_w = R_w                          (demand)
              sum_w q_wk x_wj <= F_jk                         (capacity, after the 15 % buffer)
              sum_w x_wj <= S_j                               (instance cap)
              m_wj >= cur_wj - x_wj ;  sum m_wj <= max_moves  (migration budget)
              t_w <= sum_{j in d} x_wj <= t_w + max_skew_w    (hard spread, each domain d)

Replicas of one workload are interchangeable, so x counts them instead of naming them: no
symmetry for the solver to fight. Replicas on nodes they may no longer use (``forced``) must move
and are not charged to the budget. Estimating (:mod:`.table`) is split from solving
(:mod:`.greedy`, :mod:`.exact`); the exact solver is warm-started from the greedy solution.
"""

import time
from collections.abc import Mapping, Sequence

import numpy as np

from edgeorch.placement.optimizer.exact import solve_exact
from edgeorch.placement.optimizer.greedy import Solution, objective, solve_greedy
from edgeorch.placement.optimizer.result import (
    Move,
    NewReplicas,
    ObjectiveWeights,
    OptimizeResult,
)
from edgeorch.placement.optimizer.table import Table, estimate
from edgeorch.placement.snapshot import FleetSnapshot, IntArray
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.workload import WorkloadSpec

__all__ = ["Move", "NewReplicas", "ObjectiveWeights", "OptimizeResult", "estimate", "optimize"]


def optimize(
    snapshot: FleetSnapshot,
    instances: Sequence[Instance],
    workloads: Mapping[str, WorkloadSpec],
    *,
    time_limit_s: float = 10.0,
    max_moves: int | None = None,
    weights: ObjectiveWeights | None = None,
    exact: bool = True,
) -> OptimizeResult:
    """Best assignment of ``workloads``' replicas within ``max_moves`` moves of ``instances``.

    Pure: reads ``snapshot`` (whose bookings should include ``instances``) and returns data.
    ``exact=False`` returns the greedy solution only.
    """
    start = time.perf_counter()
    ow = weights or ObjectiveWeights()
    t = estimate(snapshot, instances, workloads, ow.placement)
    big = (
        ow.unplaced if ow.unplaced is not None else 10.0 * (float(t.c.max(initial=0)) + ow.move + 1)
    )
    greedy = solve_greedy(t)
    g_obj = objective(t, greedy, ow.move, big)
    before = objective(t, Solution(t.cur.copy(), _unplaced(t, t.cur)), ow.move, big)
    status, best, obj, bound = "greedy", greedy, g_obj, -np.inf
    if exact and len(t.pw):
        out = solve_exact(
            t,
            greedy,
            time_limit_s=time_limit_s,
            max_moves=max_moves,
            move_cost=ow.move,
            unplaced_cost=big,
        )
        status, bound = out.status, out.bound
        if out.solution is not None and out.objective <= g_obj + 1e-9:
            best, obj = out.solution, out.objective
    elif not len(t.pw):
        status, bound = "empty", g_obj
    moves, fresh, assignment = _diff(snapshot, t, best)
    return OptimizeResult(
        status=status,
        moves=moves,
        new_replicas=fresh,
        objective_before=before,
        objective_after=obj,
        bound=float(bound),
        gap=_gap(obj, bound),
        greedy_objective=g_obj,
        greedy_gap=_gap(g_obj, bound),
        placed=int(best.x.sum()),
        unplaced=int(best.u.sum()),
        solve_ms=(time.perf_counter() - start) * 1000.0,
        assignment=assignment,
    )


def _unplaced(t: Table, x: IntArray) -> IntArray:
    u = t.R - np.bincount(t.pw, weights=x, minlength=len(t.R)).astype(np.int64)
    out: IntArray = np.maximum(u, 0)
    return out


def _gap(obj: float, bound: float) -> float:
    if not np.isfinite(bound) or not np.isfinite(obj):
        return float("inf")
    return max(0.0, (obj - bound) / max(abs(obj), 1e-9))


def _diff(
    snap: FleetSnapshot, t: Table, sol: Solution
) -> tuple[tuple[Move, ...], tuple[NewReplicas, ...], dict[str, dict[str, int]]]:
    """Turn pair counts into instance moves and new replicas (replicas are interchangeable)."""
    moves: list[Move] = []
    fresh: list[NewReplicas] = []
    assignment: dict[str, dict[str, int]] = {}
    for w, wid in enumerate(t.workload_ids):
        pairs = np.flatnonzero(t.pw == w)
        nodes = [str(snap.ids[t.node_rows[t.pj[p]]]) for p in pairs]
        assignment[wid] = {n: int(sol.x[p]) for n, p in zip(nodes, pairs, strict=True) if sol.x[p]}
        leaving = _leaving(snap, t, w, pairs, nodes, sol)
        gaining = [
            n
            for n, p in zip(nodes, pairs, strict=True)
            for _ in range(max(0, int(sol.x[p] - t.cur[p])))
        ]
        for i, (inst, src, forced) in enumerate(leaving):
            moves.append(Move(inst, wid, src, gaining[i] if i < len(gaining) else None, forced))
        extra = gaining[len(leaving) :]
        for node in dict.fromkeys(extra):
            fresh.append(NewReplicas(wid, node, extra.count(node)))
    return tuple(moves), tuple(fresh), assignment


def _leaving(
    snap: FleetSnapshot,
    t: Table,
    w: int,
    pairs: IntArray,
    nodes: list[str],
    sol: Solution,
) -> list[tuple[str, str | None, bool]]:
    out: list[tuple[str, str | None, bool]] = []
    kept_rows = {int(t.node_rows[t.pj[p]]): int(min(sol.x[p], t.cur[p])) for p in pairs}
    for (wi, row), members in t.instance_ids.items():
        if wi != w:
            continue
        keep = kept_rows.get(row, 0)
        allowed = row in kept_rows and any(t.cur[p] for p in pairs if t.node_rows[t.pj[p]] == row)
        source = snap.ids[row] if row >= 0 else None
        for inst in members[keep:]:
            out.append((inst, source, not allowed))
    del nodes
    return out
