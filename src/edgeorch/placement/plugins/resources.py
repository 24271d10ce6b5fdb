"""Filter and score ``resources``: free usable capacity, and utilization after placing.

Usable capacity is ``capacity * (1 - edge_resource_buffer)``; free is ``usable - allocated``.
Only resources the workload asks for (> 0) are checked.

The score is ``1 - utilization`` where utilization is the mean of the cpu and memory fractions
of usable capacity *after* this replica is added, or the agent-reported utilization (mean of cpu
and memory) when that is higher: a node busy with work we did not place should not look idle.
"""

import numpy as np

from edgeorch.placement.config import CPU, MEMORY
from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows, ScorePlugin
from edgeorch.placement.latency import FloatArray
from edgeorch.placement.snapshot import BoolArray

NAME = "resources"
REASON_INSUFFICIENT = "insufficient free capacity (after the edge resource buffer)"
_EPS = 1e-9


class ResourcesFit(FilterPlugin):
    """Removes nodes whose free usable capacity is below the per-replica request."""

    name = NAME
    reason = REASON_INSUFFICIENT
    dynamic = True

    def active(self, ctx: Context) -> bool:
        return bool((ctx.request > 0).any())

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        snap = ctx.snap
        out: BoolArray | None = None
        for k in np.flatnonzero(ctx.request > 0):
            ok = snap.usable[rows, k] - snap.allocated[rows, k] >= ctx.request[k] - _EPS
            out = ok if out is None else out & ok
        assert out is not None
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        free = (
            ctx.snap.usable[: len(rescued)][rescued] - ctx.snap.allocated[: len(rescued)][rescued]
        )
        return (
            f"{int(rescued.sum())} nodes would fit with a smaller request; the largest free is "
            f"cpu {free[:, CPU].max():.2f}, memory_mb {free[:, MEMORY].max():.0f}"
        )


class ResourcesScore(ScorePlugin):
    """``1 - utilization`` after placing one more replica."""

    name = NAME
    dynamic = True

    def score(self, ctx: Context, rows: Rows, feasible: BoolArray) -> FloatArray:
        snap = ctx.snap
        util = np.zeros(len(snap.alive[rows]))
        for k in (CPU, MEMORY):
            after = snap.allocated[rows, k] + ctx.request[k]
            usable = snap.usable[rows, k]
            # No usable capacity: full if anything is asked for, idle otherwise.
            util += np.divide(after, usable, out=(after > 0).astype(float), where=usable > 0)
        util *= 0.5
        np.maximum(util, snap.reported_util[rows], out=util)
        out: FloatArray = 1.0 - np.clip(util, 0.0, 1.0)
        return out


def factory() -> FilterPlugin:
    """A new :class:`ResourcesFit`."""
    return ResourcesFit()


def score_factory() -> ScorePlugin:
    """A new :class:`ResourcesScore`."""
    return ResourcesScore()
