"""Filter ``residency``: the node's country is one the workload's data may live in.

Allowed countries are ``residency.countries``, a regulation preset (``GDPR`` = EU/EEA, see
:mod:`edgeorch.domain.countries`), or the intersection of both.
"""

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows
from edgeorch.placement.snapshot import BoolArray

NAME = "residency"
REASON_RESIDENCY = "country not allowed by data residency"


class ResidencyFilter(FilterPlugin):
    """Removes nodes in countries outside the workload's residency rule."""

    name = NAME
    reason = REASON_RESIDENCY

    def active(self, ctx: Context) -> bool:
        return ctx.placement.residency is not None

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        assert ctx.placement.residency is not None
        allowed_words = ctx.placement.residency.allowed()
        vocab = ctx.snap.country_vocab
        allowed = np.array([w in allowed_words for w in vocab.words], bool)
        out: BoolArray = allowed[ctx.snap.country[rows]]
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        words = ctx.snap.country_vocab.words
        found = sorted({words[c] for c in ctx.snap.country[: len(rescued)][rescued]})
        return f"{int(rescued.sum())} nodes would fit if residency allowed {', '.join(found[:8])}"


def factory() -> FilterPlugin:
    """A new :class:`ResidencyFilter`."""
    return ResidencyFilter()
