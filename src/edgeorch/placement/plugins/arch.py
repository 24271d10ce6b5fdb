"""Filter ``arch``: the node's CPU architecture is one the workload's artifact is built for."""

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows
from edgeorch.placement.snapshot import ARCHES, BoolArray

NAME = "arch"
REASON_ARCH = "architecture not allowed"


class ArchFilter(FilterPlugin):
    """Removes nodes whose ``arch`` is not in ``placement.arch``."""

    name = NAME
    reason = REASON_ARCH

    def active(self, ctx: Context) -> bool:
        return ctx.placement.arch is not None

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        allowed = np.array([a in (ctx.placement.arch or ()) for a in ARCHES])
        out: BoolArray = allowed[ctx.snap.arch[rows]]
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        found = sorted({ARCHES[c].value for c in ctx.snap.arch[: len(rescued)][rescued]})
        return f"{int(rescued.sum())} nodes would fit if arch allowed {', '.join(found)}"


def factory() -> FilterPlugin:
    """A new :class:`ArchFilter`."""
    return ArchFilter()
