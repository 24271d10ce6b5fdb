"""Filter ``status``: only nodes whose state is ``ready`` and scheduling ``enabled``."""

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows
from edgeorch.placement.snapshot import BoolArray

NAME = "status"
REASON_NOT_SCHEDULABLE = "node not ready, or cordoned or draining"


class StatusFilter(FilterPlugin):
    """Removes nodes that are pending, suspect, down, cordoned or draining."""

    name = NAME
    reason = REASON_NOT_SCHEDULABLE

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        out: BoolArray = ctx.snap.schedulable[rows]
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        return f"{int(rescued.sum())} nodes would fit once ready and uncordoned"


def factory() -> FilterPlugin:
    """A new :class:`StatusFilter`."""
    return StatusFilter()
