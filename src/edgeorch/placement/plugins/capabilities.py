"""Filter ``capabilities``: the node offers every capability the workload requires."""

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows
from edgeorch.placement.snapshot import BoolArray

NAME = "capabilities"
REASON_MISSING = "missing required capabilities"


class CapabilitiesFilter(FilterPlugin):
    """Removes nodes lacking any of ``placement.capabilities``."""

    name = NAME
    reason = REASON_MISSING

    def active(self, ctx: Context) -> bool:
        return bool(ctx.placement.capabilities)

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        codes = [ctx.snap.capability_vocab.lookup(c) for c in ctx.placement.capabilities]
        if any(c is None for c in codes):
            # A capability no node ever advertised: nothing can satisfy it.
            return np.zeros_like(ctx.snap.alive[rows])
        cols = np.array(codes, np.int64)
        out: BoolArray = np.asarray(ctx.snap.caps[rows][:, cols].all(axis=1))
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        wanted = ", ".join(ctx.placement.capabilities)
        return f"{int(rescued.sum())} nodes would fit without capabilities {wanted}"


def factory() -> FilterPlugin:
    """A new :class:`CapabilitiesFilter`."""
    return CapabilitiesFilter()
