"""Score ``proximity``: ``1 - min(distance_km / 5000, 1)`` (haversine, the brochure's formula).

``distance_km`` is the user-weighted *mean* great-circle distance from the populations to the
node, not the distance from their centroid: the centroid of users in Sydney and London lies in
Asia, near no one. Without populations the score is a neutral 0.5.
"""

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import Rows, ScorePlugin
from edgeorch.placement.latency import FloatArray
from edgeorch.placement.snapshot import BoolArray

NAME = "proximity"
NEUTRAL = 0.5


class ProximityScore(ScorePlugin):
    """``1 - min(mean_distance_km / proximity_km, 1)``."""

    name = NAME

    def score(self, ctx: Context, rows: Rows, feasible: BoolArray) -> FloatArray:
        if ctx.populations is None:
            return np.full(len(ctx.snap.alive[rows]), NEUTRAL)
        ratio = ctx.distance_avg[rows] / ctx.config.proximity_km
        out: FloatArray = 1.0 - np.minimum(ratio, 1.0)
        return out


def score_factory() -> ScorePlugin:
    """A new :class:`ProximityScore`."""
    return ProximityScore()
