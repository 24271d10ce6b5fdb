"""Filter ``edge_type``: the node's kind of site is one the workload accepts."""

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows
from edgeorch.placement.latency import EDGE_TYPES
from edgeorch.placement.snapshot import BoolArray

NAME = "edge_type"
REASON_EDGE_TYPE = "edge type not allowed"


class EdgeTypeFilter(FilterPlugin):
    """Removes nodes whose ``edge_type`` is not in ``placement.edge_types``."""

    name = NAME
    reason = REASON_EDGE_TYPE

    def active(self, ctx: Context) -> bool:
        return ctx.placement.edge_types is not None

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        allowed = np.array([t in (ctx.placement.edge_types or ()) for t in EDGE_TYPES])
        out: BoolArray = allowed[ctx.snap.edge_type[rows]]
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        found = sorted({EDGE_TYPES[c].value for c in ctx.snap.edge_type[: len(rescued)][rescued]})
        return f"{int(rescued.sum())} nodes would fit if edge_types allowed {', '.join(found)}"


def factory() -> FilterPlugin:
    """A new :class:`EdgeTypeFilter`."""
    return EdgeTypeFilter()
