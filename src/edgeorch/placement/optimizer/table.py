"""Estimating: one pass over the snapshot builds the feasibility and cost table the solvers share.

Pairs ``p`` are the (workload ``w``, node ``j``) combinations that survive every static filter
(status, arch, edge type, capabilities, regions, residency, latency SLA, cost ceiling, slice)
and where one replica fits the node's usable capacity: the filters become variable eliminations.
Capacity, instance slots and hard spread stay as constraints because they couple replicas.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edgeorch.domain.enums import SpreadLevel
from edgeorch.placement.config import CPU, MEMORY
from edgeorch.placement.context import Context
from edgeorch.placement.latency import FloatArray
from edgeorch.placement.plugins import default_filters, default_scores
from edgeorch.placement.plugins.spread import domains
from edgeorch.placement.snapshot import BoolArray, FleetSnapshot, IntArray, resource_vector
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.workload import PlacementWeights, WorkloadSpec

_STATIC_SCORES = ("latency", "cost", "proximity")


@dataclass(frozen=True)
class SpreadRule:
    """Hard spread of workload ``w``: per-pair domain code, and ``max_skew``."""

    w: int
    domain: IntArray
    max_skew: int


@dataclass
class Table:
    """The model's data, named as in :mod:`edgeorch.placement.optimizer`'s docstring.

    Per workload (W): ``workload_ids``, ``R`` int64, ``q`` float64 (W, 5), ``K`` int64.
    Per node (N): ``node_rows`` (snapshot rows), ``F`` float64 (N, 5), ``S`` int64.
    Per pair (P): ``pw``, ``pj`` int64, ``c`` float64, ``cur`` int64, ``ub`` int64.
    ``forced``: replicas on nodes they may no longer use (they must move; outside the budget).
    """

    workload_ids: list[str]
    R: IntArray
    q: FloatArray
    K: IntArray
    node_rows: IntArray
    F: FloatArray
    S: IntArray
    pw: IntArray
    pj: IntArray
    c: FloatArray
    cur: IntArray
    ub: IntArray
    forced: int
    spread: list[SpreadRule]
    instance_ids: dict[tuple[int, int], list[str]]


def desired_replicas(spec: WorkloadSpec, current: int) -> int:
    """Replicas the optimiser must place: ``replicas``, or the current count within scaling."""
    if spec.replicas is not None:
        return spec.replicas
    assert spec.scaling is not None
    return min(max(current, spec.scaling.min), spec.scaling.max)


def static_mask_and_cost(
    snap: FleetSnapshot, workload_id: str, spec: WorkloadSpec, weights: PlacementWeights | None
) -> tuple[BoolArray, FloatArray]:
    """Allowed nodes (bool (n,)) and per-replica cost (float64 (n,)) of one workload.

    cost = sum over latency, cost, proximity of weight * (1 - term), plus
    weights.resources * (mean share of usable cpu and memory one replica takes): the marginal,
    linear stand-in for the resources score.
    """
    ctx = Context(snap, spec, workload_id, weights)
    n = snap.size
    rows = slice(0, n)
    mask = snap.alive[:n].copy()
    for f in default_filters():
        if not f.dynamic and f.active(ctx):
            mask &= f.filter(ctx, rows)
    fits = (snap.usable[:n] >= ctx.request - 1e-9).all(axis=1)
    mask &= fits
    wmap = ctx.weight_map
    cost = np.zeros(n)
    for s in default_scores(_STATIC_SCORES):
        if wmap[s.name] > 0:
            cost += wmap[s.name] * (1.0 - s.score(ctx, rows, mask))
    usable = snap.usable[:n][:, [CPU, MEMORY]]
    share = np.divide(
        ctx.request[[CPU, MEMORY]], usable, out=np.ones_like(usable), where=usable > 0
    )
    cost += wmap["resources"] * np.clip(share.mean(axis=1), 0.0, 1.0)
    return mask, cost


def estimate(
    snap: FleetSnapshot,
    instances: Sequence[Instance],
    workloads: Mapping[str, WorkloadSpec],
    weights: PlacementWeights | None = None,
) -> Table:
    """Build the table for ``workloads`` given their current ``instances`` on ``snap``."""
    ids = list(workloads)
    wix = {w: i for i, w in enumerate(ids)}
    current = _current(snap, instances, wix)
    masks, costs = (
        zip(*(static_mask_and_cost(snap, w, workloads[w], weights) for w in ids), strict=True)
        if ids
        else ((), ())
    )
    allowed = np.array(masks).reshape(len(ids), snap.size)
    node_rows = np.flatnonzero(allowed.any(axis=0))
    col = {int(r): j for j, r in enumerate(node_rows)}
    pw, pr = np.nonzero(allowed[:, node_rows])
    pj = pr.astype(np.int64)
    q = np.array([resource_vector(workloads[w].resources) for w in ids]).reshape(len(ids), 5)
    cur_dense = np.zeros((len(ids), len(node_rows)), np.int64)
    forced = 0
    for (w, row), members in current.items():
        if row in col and allowed[w, row]:
            cur_dense[w, col[row]] = len(members)
        else:
            forced += len(members)
    cur_all = np.zeros((len(ids), snap.size), np.int64)
    for (w, row), members in current.items():
        cur_all[w, row] = len(members)
    R = np.array(
        [desired_replicas(workloads[w], int(cur_all[i].sum())) for i, w in enumerate(ids)], np.int64
    )
    K = np.array([workloads[w].placement.max_instances_per_node or 10**6 for w in ids], np.int64)
    mine = cur_all[:, node_rows]
    F = np.maximum(snap.usable[node_rows] - snap.allocated[node_rows] + mine.T @ q, 0.0)
    S = np.maximum(snap.config.max_edge_vms_per_node - snap.instances[node_rows] + mine.sum(0), 0)
    ub = np.minimum(np.minimum(R[pw], K[pw]), S[pj])
    c = np.array(costs).reshape(len(ids), snap.size)[pw, node_rows[pj]]
    return Table(
        workload_ids=ids,
        R=R,
        q=q,
        K=K,
        node_rows=node_rows,
        F=F,
        S=S.astype(np.int64),
        pw=pw.astype(np.int64),
        pj=pj,
        c=c,
        cur=cur_dense[pw, pj],
        ub=ub.astype(np.int64),
        forced=forced,
        spread=_spread_rules(snap, workloads, ids, pw, node_rows[pj]),
        instance_ids={k: v for k, v in current.items()},
    )


def _current(
    snap: FleetSnapshot, instances: Sequence[Instance], wix: Mapping[str, int]
) -> dict[tuple[int, int], list[str]]:
    """Instance ids by (workload index, snapshot row); row -1 for unknown nodes."""
    out: dict[tuple[int, int], list[str]] = {}
    for inst in instances:
        w = wix.get(inst.spec.workload_id)
        if w is None or inst.spec.desired_state != "running" or inst.spec.node_id is None:
            continue
        row = snap.index.get(inst.spec.node_id, -1)
        out.setdefault((w, row), []).append(inst.metadata.id)
    return out


def _spread_rules(
    snap: FleetSnapshot,
    workloads: Mapping[str, WorkloadSpec],
    ids: list[str],
    pw: IntArray,
    prow: IntArray,
) -> list[SpreadRule]:
    rules: list[SpreadRule] = []
    for w, wid in enumerate(ids):
        spread = workloads[wid].placement.spread
        if spread is None or not spread.hard:
            continue
        ctx = Context(snap, workloads[wid], wid)
        level = domains(ctx, spread.across if spread.across else SpreadLevel.NODE)
        rules.append(SpreadRule(w, level[prow[pw == w]], spread.max_skew))
    return rules
