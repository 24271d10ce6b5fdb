"""Filter ``network_slice``: the node serves the 5G slice the workload asks for."""

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows
from edgeorch.placement.snapshot import BoolArray, slice_bit

NAME = "network_slice"
REASON_NO_SLICE = "network slice not offered"


class NetworkSliceFilter(FilterPlugin):
    """Removes nodes without ``placement.network_slice`` in their ``network_slices``."""

    name = NAME
    reason = REASON_NO_SLICE

    def active(self, ctx: Context) -> bool:
        return ctx.placement.network_slice is not None

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        assert ctx.placement.network_slice is not None
        out: BoolArray = (ctx.snap.slices[rows] & slice_bit(ctx.placement.network_slice)) != 0
        return out

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        return f"{int(rescued.sum())} nodes would fit without the network_slice requirement"


def factory() -> FilterPlugin:
    """A new :class:`NetworkSliceFilter`."""
    return NetworkSliceFilter()
