"""Filter ``regions``: the node is in one of the workload's allowed regions."""

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows
from edgeorch.placement.snapshot import BoolArray

NAME = "regions"
REASON_REGION = "region not allowed"


class RegionsFilter(FilterPlugin):
    """Removes nodes outside ``placement.regions``."""

    name = NAME
    reason = REASON_REGION

    def active(self, ctx: Context) -> bool:
        return ctx.placement.regions is not None

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        vocab = ctx.snap.region_vocab
        allowed = np.zeros(len(vocab), bool)
        codes = [vocab.lookup(r) for r in ctx.placement.regions or ()]
        allowed[[c for c in codes if c is not None]] = True
        out: BoolArray = allowed[ctx.snap.region[rows]]
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        words = ctx.snap.region_vocab.words
        found = sorted({words[c] for c in ctx.snap.region[: len(rescued)][rescued]})
        return f"{int(rescued.sum())} nodes would fit if regions allowed {', '.join(found[:5])}"


def factory() -> FilterPlugin:
    """A new :class:`RegionsFilter`."""
    return RegionsFilter()
