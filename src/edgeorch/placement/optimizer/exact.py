"""Exact solver: the model of :mod:`edgeorch.placement.optimizer` as a MIP for HiGHS (highspy),
warm-started from the greedy solution, with a time limit; reports the proven bound.

Column layout: ``x`` (P pairs) | ``u`` (W) | ``m`` (pairs with ``cur > 0``) | ``t`` (hard-spread
workloads).
"""

from dataclasses import dataclass

import numpy as np

from edgeorch.placement.latency import FloatArray
from edgeorch.placement.optimizer.greedy import Solution
from edgeorch.placement.optimizer.table import Table
from edgeorch.placement.snapshot import IntArray

_INF = float("inf")


@dataclass(frozen=True)
class ExactOutcome:
    """Solver status word, the solution (None if none found), its objective and proven bound."""

    status: str
    solution: Solution | None
    objective: float
    bound: float


class _Rows:
    """Accumulates sparse rows ``lo <= sum(val * col) <= hi`` for one ``addRows`` call."""

    def __init__(self) -> None:
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.starts: list[int] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []
        self.nnz = 0

    def add(self, cols: IntArray, vals: FloatArray, lo: float, hi: float) -> None:
        self.starts.append(self.nnz)
        self.cols.append(cols.astype(np.int32))
        self.vals.append(vals.astype(np.float64))
        self.nnz += len(cols)
        self.lo.append(lo)
        self.hi.append(hi)


def solve_exact(
    t: Table,
    warm: Solution,
    *,
    time_limit_s: float,
    max_moves: int | None,
    move_cost: float,
    unplaced_cost: float,
    gap: float = 1e-4,
) -> ExactOutcome:
    """Solve the MIP; ``warm`` must satisfy the move budget (the greedy solution does)."""
    import highspy

    P, W = len(t.pw), len(t.R)
    moved = np.flatnonzero(t.cur > 0)
    spread_w = [r.w for r in t.spread]
    n_cols = P + W + len(moved) + len(spread_w)
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    for key, value in (
        ("output_flag", False),
        ("time_limit", float(time_limit_s)),
        ("mip_rel_gap", gap),
        ("random_seed", 0),
        ("threads", 1),
    ):
        h.setOptionValue(key, value)
    lb = np.zeros(n_cols)
    ub = np.concatenate([t.ub, t.R, t.cur[moved], t.R[spread_w]]).astype(float)
    h.addVars(n_cols, lb, ub)
    cost = np.concatenate(
        [t.c, np.full(W, unplaced_cost), np.full(len(moved), move_cost), np.zeros(len(spread_w))]
    )
    h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), cost)
    h.changeColsIntegrality(P, np.arange(P, dtype=np.int32), np.ones(P, np.uint8))
    rows = _constraints(t, moved, spread_w, max_moves)
    h.addRows(
        len(rows.lo),
        np.array(rows.lo),
        np.array(rows.hi),
        rows.nnz,
        np.array(rows.starts, np.int32),
        np.concatenate(rows.cols) if rows.cols else np.zeros(0, np.int32),
        np.concatenate(rows.vals) if rows.vals else np.zeros(0),
    )
    start = _warm_vector(t, warm, moved)
    h.setSolution(n_cols, np.arange(n_cols, dtype=np.int32), start)
    h.run()
    return _outcome(h, t, P, W, move_cost)


def _constraints(t: Table, moved: IntArray, spread_w: list[int], max_moves: int | None) -> _Rows:
    P, W = len(t.pw), len(t.R)
    rows = _Rows()
    by_w = np.argsort(t.pw, kind="stable")
    splits = np.searchsorted(t.pw[by_w], np.arange(W + 1))
    for w in range(W):  # demand: sum_j x_wj + u_w = R_w
        cols = np.append(by_w[splits[w] : splits[w + 1]], P + w)
        rows.add(cols, np.ones(len(cols)), float(t.R[w]), float(t.R[w]))
    by_j = np.argsort(t.pj, kind="stable")
    jsplit = np.searchsorted(t.pj[by_j], np.arange(len(t.S) + 1))
    used = [k for k in range(t.q.shape[1]) if (t.q[:, k] > 0).any()]
    for j in range(len(t.S)):
        cols = by_j[jsplit[j] : jsplit[j + 1]]
        for k in used:  # capacity: sum_w q_wk x_wj <= F_jk
            rows.add(cols, t.q[t.pw[cols], k], -_INF, float(t.F[j, k]))
        rows.add(cols, np.ones(len(cols)), -_INF, float(t.S[j]))  # slots
    for i, p in enumerate(moved):  # moves: m_p + x_p >= cur_p
        rows.add(np.array([P + W + i, p]), np.ones(2), float(t.cur[p]), _INF)
    if max_moves is not None and len(moved):
        cols = P + W + np.arange(len(moved))
        rows.add(cols, np.ones(len(cols)), -_INF, float(max(0, max_moves)))
    for i, rule in enumerate(t.spread):  # t_w <= count_d <= t_w + max_skew
        pairs = np.flatnonzero(t.pw == rule.w)
        tcol = P + W + len(moved) + i
        for d in np.unique(rule.domain):
            cols = np.append(pairs[rule.domain == d], tcol)
            vals = np.append(np.ones(len(cols) - 1), -1.0)
            rows.add(cols, vals, 0.0, float(rule.max_skew))
    del spread_w
    return rows


def _warm_vector(t: Table, warm: Solution, moved: IntArray) -> FloatArray:
    m = np.maximum(t.cur[moved] - warm.x[moved], 0)
    tvals = []
    for rule in t.spread:
        pairs = np.flatnonzero(t.pw == rule.w)
        counts = np.bincount(rule.domain, weights=warm.x[pairs])
        tvals.append(counts[np.unique(rule.domain)].min())
    return np.concatenate([warm.x, warm.u, m, np.array(tvals, float)]).astype(float)


def _outcome(h: object, t: Table, P: int, W: int, move_cost: float) -> ExactOutcome:
    status = h.modelStatusToString(h.getModelStatus())  # type: ignore[attr-defined]
    info = h.getInfo()  # type: ignore[attr-defined]
    values = np.asarray(h.getSolution().col_value)  # type: ignore[attr-defined]
    if len(values) < P + W:
        return ExactOutcome(status, None, _INF, float(info.mip_dual_bound))
    x = np.rint(values[:P]).astype(np.int64)
    u = np.rint(values[P : P + W]).astype(np.int64)
    forced = move_cost * t.forced  # constant, kept so objectives compare with greedy's
    return ExactOutcome(
        status,
        Solution(x, u),
        float(info.objective_function_value) + forced,
        float(info.mip_dual_bound) + forced,
    )
