"""Filter and score ``spread``: keep a workload's replicas spread across topology domains.

Domains are nodes, zones (``region/zone``) or regions. With ``spread.hard`` the filter admits a
node only if placing there keeps ``count(domain) + 1 - min count over eligible domains <=
max_skew`` at the ``spread.across`` level (eligible: domains with a node passing the static
filters), as Kubernetes' topology spread does. The score, used when ``weights.spread > 0``, is the
mean over levels of ``1 / (1 + replicas already in the node's domain)``; levels are node and zone,
plus region when ``spread.across`` is ``region``.
"""

import numpy as np

from edgeorch.domain.enums import SpreadLevel
from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows, ScorePlugin
from edgeorch.placement.latency import FloatArray
from edgeorch.placement.snapshot import BoolArray, IntArray

NAME = "spread"
REASON_SKEW = "placing here would exceed the spread max_skew"


def domains(ctx: Context, level: SpreadLevel) -> IntArray:
    """Domain code per row for ``level``: int64 (n,)."""
    n = ctx.snap.size
    if level == SpreadLevel.NODE:
        return np.arange(n, dtype=np.int64)
    col = ctx.snap.zone if level == SpreadLevel.ZONE else ctx.snap.region
    out: IntArray = col[:n]
    return out


def domain_counts(ctx: Context, dom: IntArray) -> FloatArray:
    """Replicas of the workload per domain code: float64 (max code + 1,)."""
    rows, counts = ctx.snap.placed_rows(ctx.workload_id)
    size = int(dom.max()) + 1 if len(dom) else 0
    out: FloatArray = np.asarray(
        np.bincount(dom[rows], weights=counts.astype(float), minlength=size), np.float64
    )
    return out


class SpreadFilter(FilterPlugin):
    """Removes nodes whose domain already holds ``max_skew`` more replicas than the emptiest."""

    name = NAME
    reason = REASON_SKEW
    dynamic = True
    global_scope = True

    def active(self, ctx: Context) -> bool:
        return ctx.placement.spread is not None and ctx.placement.spread.hard

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        spread = ctx.placement.spread
        assert spread is not None and ctx.feasible_static is not None
        dom = domains(ctx, spread.across)
        counts = domain_counts(ctx, dom)
        eligible = dom[ctx.feasible_static]
        low = float(counts[eligible].min()) if len(eligible) else 0.0
        out: BoolArray = counts[dom[rows]] + 1.0 - low <= spread.max_skew
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        return f"{int(rescued.sum())} nodes would fit with a larger spread.max_skew or hard: false"


class SpreadScore(ScorePlugin):
    """Mean over levels of ``1 / (1 + replicas in the node's domain)``."""

    name = NAME
    dynamic = True
    global_scope = True

    def score(self, ctx: Context, rows: Rows, feasible: BoolArray) -> FloatArray:
        levels = [SpreadLevel.NODE, SpreadLevel.ZONE]
        spread = ctx.placement.spread
        if spread is not None and spread.across == SpreadLevel.REGION:
            levels.append(SpreadLevel.REGION)
        total = np.zeros(len(ctx.snap.alive[rows]))
        for level in levels:
            dom = domains(ctx, level)
            total += 1.0 / (1.0 + domain_counts(ctx, dom)[dom[rows]])
        out: FloatArray = total / len(levels)
        return out


def factory() -> FilterPlugin:
    """A new :class:`SpreadFilter`."""
    return SpreadFilter()


def score_factory() -> ScorePlugin:
    """A new :class:`SpreadScore`."""
    return SpreadScore()
