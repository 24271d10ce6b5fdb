"""Filter ``instance_cap``: at most ``max_edge_vms_per_node`` instances on a node (brochure: 10),
and at most ``placement.max_instances_per_node`` replicas *of this workload* on one node.

The fleet cap counts every workload's instances; the workload's own cap can only lower what it
gets, never raise the fleet cap.
"""

import numpy as np

from edgeorch.placement.context import Context
from edgeorch.placement.framework import FilterPlugin, Rows
from edgeorch.placement.snapshot import BoolArray, IntArray

NAME = "instance_cap"
REASON_FULL = "node at its instance limit"


def workload_counts(ctx: Context, rows: Rows) -> IntArray:
    """Replicas of the request's workload on each row: int64 (m,)."""
    keys, counts = ctx.snap.placed_rows(ctx.workload_id)
    dense = np.zeros(ctx.snap.size, np.int64)
    dense[keys] = counts
    out: IntArray = dense[rows]
    return out


class InstanceCap(FilterPlugin):
    """Removes nodes already holding their share of instances."""

    name = NAME
    reason = REASON_FULL
    dynamic = True

    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        ok: BoolArray = ctx.snap.instances[rows] < ctx.config.max_edge_vms_per_node
        own_cap = ctx.placement.max_instances_per_node
        if own_cap is not None and ctx.snap.placed.get(ctx.workload_id):
            ok &= workload_counts(ctx, rows) < own_cap
        return ok

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        return (
            f"{int(rescued.sum())} nodes are at the limit of {ctx.config.max_edge_vms_per_node} "
            "instances (or the workload's max_instances_per_node)"
        )


def factory() -> FilterPlugin:
    """A new :class:`InstanceCap`."""
    return InstanceCap()
