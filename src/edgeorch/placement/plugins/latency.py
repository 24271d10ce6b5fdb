"""Filter and score ``latency``: the SLA from every user population, and the brochure's score.

The SLA holds on a node when the modelled RTT (see :mod:`edgeorch.placement.latency`) from
*every* population with weight > 0 is at most ``max_latency_ms``. The score is
``1 - min(rtt / max_edge_latency, 1)`` with ``rtt`` the user-weighted mean RTT. Without user
populations neither can be computed: the SLA is not checked, the score is a neutral 0.5 for all
nodes, and the explanation says so.
"""

import math

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows, ScorePlugin
from edgeorch.placement.latency import FloatArray
from edgeorch.placement.snapshot import BoolArray

NAME = "latency"
REASON_SLA = "latency SLA not met for some user population"
NEUTRAL = 0.5
NOTE_NO_USERS_SLA = "max_latency_ms is set but the workload names no users: SLA not checked"
NOTE_NO_USERS_SCORE = "no user populations: latency and proximity scores are neutral (0.5)"


class LatencySLA(FilterPlugin):
    """Removes nodes where some population's RTT exceeds ``placement.max_latency_ms``."""

    name = NAME
    reason = REASON_SLA

    def active(self, ctx: Context) -> bool:
        if ctx.placement.max_latency_ms is None:
            return False
        if ctx.populations is None:
            ctx.notes.append(NOTE_NO_USERS_SLA)
            return False
        return True

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        limit = ctx.placement.max_latency_ms
        assert limit is not None
        out: BoolArray = ctx.rtt_max[rows] <= limit
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        worst = ctx.rtt_max[rescued]
        # Round up to 0.1 ms so the suggested SLA admits the node it was computed from.
        needed = math.ceil(float(worst.min()) * 10.0) / 10.0
        fits = rescued & (ctx.rtt_max <= needed)
        words = ctx.snap.country_vocab.words
        countries = sorted({words[c] for c in ctx.snap.country[: len(fits)][fits]})
        return (
            f"{int(fits.sum())} nodes in {', '.join(countries)} would fit if max_latency_ms "
            f"were {needed:g} (all {int(rescued.sum())} at {math.ceil(float(worst.max())):g})"
        )


class LatencyScore(ScorePlugin):
    """``1 - min(rtt_avg / max_edge_latency, 1)``."""

    name = NAME

    def score(self, ctx: Context, rows: Rows, feasible: BoolArray) -> FloatArray:
        if ctx.populations is None:
            if NOTE_NO_USERS_SCORE not in ctx.notes:
                ctx.notes.append(NOTE_NO_USERS_SCORE)
            return np.full(len(ctx.snap.alive[rows]), NEUTRAL)
        ratio = ctx.rtt_avg[rows] / ctx.config.max_edge_latency_ms
        out: FloatArray = 1.0 - np.minimum(ratio, 1.0)
        return out


def factory() -> FilterPlugin:
    """A new :class:`LatencySLA`."""
    return LatencySLA()


def score_factory() -> ScorePlugin:
    """A new :class:`LatencyScore`."""
    return LatencyScore()
