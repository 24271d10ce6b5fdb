"""One placement request compiled against one snapshot: the view every plugin reads.

User populations are the workload's ``users`` points with weight > 0, plus one point per name in
``user_regions``, placed at the centroid of that region's live nodes (weight 1). A node's
measurement ``measured_rtt_ms["users"]`` replaces the estimate for the explicit points and
``measured_rtt_ms[<region>]`` for a region point.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from edgeorch.placement.latency import (
    ACCESS_BY_EDGE_CODE,
    ACCESS_RTT_MS_BY_SLICE,
    FloatArray,
    apply_measured,
    distance_matrix_km,
    rtt_from_distance,
    unit_vectors,
)
from edgeorch.placement.snapshot import BoolArray, FleetSnapshot, resource_vector
from edgeorch.schemas.workload import PlacementWeights, WorkloadSpec

USERS_TARGET = "users"


@dataclass(frozen=True)
class Populations:
    """User points: ``xyz`` float64 (U, 3), ``weight`` float64 (U,), measurement key per point."""

    xyz: FloatArray
    weight: FloatArray
    targets: tuple[str, ...]


@dataclass
class Context:
    """A request (``spec`` for ``workload_id``) seen through ``snap``.

    ``feasible_static`` is set by the framework once the static filters ran; plugins that
    compare nodes with each other (hard spread) read it.
    """

    snap: FleetSnapshot
    spec: WorkloadSpec
    workload_id: str = ""
    weights: PlacementWeights | None = None
    notes: list[str] = field(default_factory=list)
    feasible_static: BoolArray | None = None

    def __post_init__(self) -> None:
        self.placement = self.spec.placement
        self.config = self.snap.config
        self.request: FloatArray = resource_vector(self.spec.resources)
        if self.weights is None:
            self.weights = self.placement.weights

    @property
    def weight_map(self) -> dict[str, float]:
        """Score weights by plugin name."""
        assert self.weights is not None
        return self.weights.model_dump()

    @cached_property
    def populations(self) -> Populations | None:
        """The user populations, or None when the workload names none."""
        pts = [u for u in self.placement.users if u.weight > 0]
        lat = [u.latitude for u in pts]
        lon = [u.longitude for u in pts]
        weights = [u.weight for u in pts]
        targets = [USERS_TARGET] * len(pts)
        for name in self.placement.user_regions:
            centroid = self._region_centroid(name)
            if centroid is None:
                self.notes.append(f"user region {name!r} has no live nodes; ignored")
                continue
            lat.append(centroid[0])
            lon.append(centroid[1])
            weights.append(1.0)
            targets.append(name)
        if not lat:
            return None
        xyz = unit_vectors(np.array(lat, float), np.array(lon, float))
        return Populations(xyz, np.array(weights, float), tuple(targets))

    def _region_centroid(self, name: str) -> tuple[float, float] | None:
        code = self.snap.region_vocab.lookup(name)
        if code is None:
            return None
        rows = self.snap.alive & (self.snap.region == code)
        if not rows.any():
            return None
        v = self.snap.xyz[rows].mean(axis=0)
        v /= np.linalg.norm(v) or 1.0
        return float(np.degrees(np.arcsin(v[2]))), float(np.degrees(np.arctan2(v[1], v[0])))

    @cached_property
    def access_ms(self) -> FloatArray:
        """Access-network RTT per node, float64 (n,): the slice's if one is asked for."""
        if self.placement.network_slice is not None:
            value = ACCESS_RTT_MS_BY_SLICE[self.placement.network_slice]
            return np.full(self.snap.size, value)
        out: FloatArray = ACCESS_BY_EDGE_CODE[self.snap.edge_type[: self.snap.size]]
        return out

    @cached_property
    def distance_km(self) -> FloatArray:
        """Great-circle km from each population to each node, float64 (U, n)."""
        pops = self.populations
        assert pops is not None
        return distance_matrix_km(pops.xyz, self.snap.xyz[: self.snap.size])

    @cached_property
    def rtt(self) -> FloatArray:
        """Modelled RTT in ms from each population to each node, float64 (U, n)."""
        pops = self.populations
        assert pops is not None
        dist = self.distance_km
        out = rtt_from_distance(dist, self.access_ms[None, :])
        for target in set(pops.targets):
            col = self.snap.measured.get(target)
            if col is None:
                continue
            sel = np.array([t == target for t in pops.targets])
            out[sel] = apply_measured(out[sel], dist[sel], col[: self.snap.size])
        return out

    @cached_property
    def rtt_avg(self) -> FloatArray:
        """User-weighted mean RTT per node in ms, float64 (n,)."""
        pops = self.populations
        assert pops is not None
        out: FloatArray = pops.weight @ self.rtt / pops.weight.sum()
        return out

    @cached_property
    def rtt_max(self) -> FloatArray:
        """Worst RTT over populations per node in ms, float64 (n,)."""
        out: FloatArray = self.rtt.max(axis=0)
        return out

    @cached_property
    def distance_avg(self) -> FloatArray:
        """User-weighted mean distance per node in km, float64 (n,)."""
        pops = self.populations
        assert pops is not None
        out: FloatArray = pops.weight @ self.distance_km / pops.weight.sum()
        return out
