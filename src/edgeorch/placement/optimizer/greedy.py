"""Greedy solver over the :class:`~edgeorch.placement.optimizer.table.Table`: keep every current
replica where it is (zero moves), then place the missing ones, biggest workloads first, each on
the cheapest pair that still fits. Fast, always within the move budget, and the warm start of the
exact solver.
"""

from dataclasses import dataclass

import numpy as np

from edgeorch.placement.latency import FloatArray
from edgeorch.placement.optimizer.table import SpreadRule, Table
from edgeorch.placement.snapshot import IntArray


@dataclass(frozen=True)
class Solution:
    """``x`` int64 (P,) replicas per pair; ``u`` int64 (W,) unplaced per workload."""

    x: IntArray
    u: IntArray


def solve_greedy(t: Table) -> Solution:
    """The greedy solution described in the module docstring."""
    x = np.minimum(t.cur, t.ub).astype(np.int64)
    free: FloatArray = t.F.copy()
    for k in range(t.q.shape[1]):
        free[:, k] = t.F[:, k] - np.bincount(t.pj, weights=x * t.q[t.pw, k], minlength=len(t.F))
    slots = t.S - np.bincount(t.pj, weights=x, minlength=len(t.S)).astype(np.int64)
    u = t.R.copy()
    np.subtract.at(u, t.pw, x)
    u = np.maximum(u, 0)
    rules = {r.w: r for r in t.spread}
    size = t.q[:, 0] / max(float(t.q[:, 0].max(initial=0.0)), 1e-9) + t.q[:, 1] / max(
        float(t.q[:, 1].max(initial=0.0)), 1e-9
    )
    for w in np.argsort(-size, kind="stable"):
        pairs = np.flatnonzero(t.pw == w)
        pairs = pairs[np.argsort(t.c[pairs], kind="stable")]
        while u[w] > 0:
            p = _first_fit(t, w, pairs, x, free, slots, rules.get(int(w)))
            if p is None:
                break
            x[p] += 1
            free[t.pj[p]] -= t.q[w]
            slots[t.pj[p]] -= 1
            u[w] -= 1
    return Solution(x, u)


def _first_fit(
    t: Table,
    w: int,
    pairs: IntArray,
    x: IntArray,
    free: FloatArray,
    slots: IntArray,
    rule: SpreadRule | None,
) -> int | None:
    ok = (x[pairs] < t.ub[pairs]) & (slots[t.pj[pairs]] > 0)
    ok &= (free[t.pj[pairs]] >= t.q[w] - 1e-9).all(axis=1)
    if rule is not None:
        counts = np.bincount(rule.domain, weights=x[pairs], minlength=int(rule.domain.max()) + 1)
        present = np.unique(rule.domain)
        low = counts[present].min()
        ok &= counts[rule.domain] + 1 - low <= rule.max_skew
    hit = np.flatnonzero(ok)
    return int(pairs[hit[0]]) if len(hit) else None


def objective(t: Table, sol: Solution, move_cost: float, unplaced_cost: float) -> float:
    """Value of the model's objective at ``sol``."""
    moves = np.maximum(t.cur - sol.x, 0).sum() + t.forced
    return float(t.c @ sol.x + unplaced_cost * sol.u.sum() + move_cost * moves)
