"""Filter and score ``cost``: the hourly price ceiling, and ``1 - normalized_cost``.

``normalized_cost`` is min-max normalised over the currently feasible nodes, so the cheapest
feasible node scores 1 and the dearest 0; when all cost the same every node scores 1.
"""

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows, ScorePlugin
from edgeorch.placement.latency import FloatArray
from edgeorch.placement.snapshot import BoolArray

NAME = "cost"
REASON_TOO_EXPENSIVE = "cost_per_hour above max_cost_per_hour"


class CostCeiling(FilterPlugin):
    """Removes nodes whose ``cost_per_hour`` exceeds ``placement.max_cost_per_hour``."""

    name = NAME
    reason = REASON_TOO_EXPENSIVE

    def active(self, ctx: Context) -> bool:
        return ctx.placement.max_cost_per_hour is not None

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        limit = ctx.placement.max_cost_per_hour
        assert limit is not None
        out: BoolArray = ctx.snap.cost[rows] <= limit
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        cheapest = float(ctx.snap.cost[: len(rescued)][rescued].min())
        fits = int((rescued & (ctx.snap.cost[: len(rescued)] <= cheapest)).sum())
        return f"{fits} nodes would fit if max_cost_per_hour were {cheapest:g}"


class CostScore(ScorePlugin):
    """``1 - (cost - min) / (max - min)`` over the feasible nodes."""

    name = NAME
    relative = True

    def score(self, ctx: Context, rows: Rows, feasible: BoolArray) -> FloatArray:
        cost = ctx.snap.cost[rows]
        pool = ctx.snap.cost[: len(feasible)][feasible]
        if len(pool) == 0:
            return np.ones(len(cost))
        lo, hi = float(pool.min()), float(pool.max())
        if hi <= lo:
            return np.ones(len(cost))
        out: FloatArray = 1.0 - np.clip((cost - lo) / (hi - lo), 0.0, 1.0)
        return out


def factory() -> FilterPlugin:
    """A new :class:`CostCeiling`."""
    return CostCeiling()


def score_factory() -> ScorePlugin:
    """A new :class:`CostScore`."""
    return CostScore()
