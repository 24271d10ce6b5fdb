"""Round-trip time model: distance over fibre plus the access network, floored by physics.

For a user at great-circle distance ``d`` km from a node::

    rtt_ms = max(2 * ROUTE_FACTOR * d / FIBRE_KM_PER_MS + access_ms, d / FLOOR_KM_PER_MS)

- ``FIBRE_KM_PER_MS = 200``: light in glass (refractive index ~1.47) covers ~204 km per ms.
- ``ROUTE_FACTOR = 2.1``: real fibre routes are about twice the straight line (the brochure's
  figure; it matches published path-stretch measurements of ~2 for terrestrial routes).
- ``access_ms``: RTT of the last mile, from :data:`ACCESS_RTT_MS_BY_SLICE` when the workload asks
  for a 5G slice, else from :data:`ACCESS_RTT_MS_BY_EDGE_TYPE`.
- The floor ``d / 100`` ms (1 ms of RTT per 100 km) is what light in fibre needs on the straight
  line there and back; no estimate or measurement may claim better.

A measured RTT reported by the node's agent (``NodeStatus.measured_rtt_ms``) replaces the estimate
for the population it was measured against, and is floored the same way.
"""

import math

import numpy as np
import numpy.typing as npt

from edgeorch.domain.enums import EdgeType, NetworkSlice
from edgeorch.domain.geo import EARTH_RADIUS_KM, haversine_km

FloatArray = npt.NDArray[np.float64]

FIBRE_KM_PER_MS = 200.0
ROUTE_FACTOR = 2.1
FLOOR_KM_PER_MS = 100.0

# Access-network RTT by 5G slice. ITU-R M.2410 asks 1 ms one-way user-plane latency for URLLC and
# 4 ms for eMBB, so 2 and 8 ms round trip; mMTC has no tight target (3GPP TR 38.913 allows
# seconds), we take 20 ms as a typical NB-IoT/LTE-M connected-mode round trip.
ACCESS_RTT_MS_BY_SLICE: dict[NetworkSlice, float] = {
    NetworkSlice.URLLC: 2.0,
    NetworkSlice.EMBB: 8.0,
    NetworkSlice.MMTC: 20.0,
}

# Access-network RTT by edge type when no slice is requested. MEC sits on the RAN (eMBB radio);
# telco sites add a metro aggregation hop; CDN PoPs and clouds are reached over fixed broadband,
# whose idle last-mile RTT is ~10-20 ms (FCC Measuring Broadband America), plus a data-centre
# ingress for clouds; IoT gateways and on-premise boxes sit on the users' own LAN.
ACCESS_RTT_MS_BY_EDGE_TYPE: dict[EdgeType, float] = {
    EdgeType.MEC: 8.0,
    EdgeType.TELCO: 10.0,
    EdgeType.CDN: 15.0,
    EdgeType.CLOUD: 20.0,
    EdgeType.IOT: 5.0,
    EdgeType.ONPREM: 2.0,
}

EDGE_TYPES: tuple[EdgeType, ...] = tuple(EdgeType)
"""Code order of the snapshot's ``edge_type`` column."""

ACCESS_BY_EDGE_CODE: FloatArray = np.array([ACCESS_RTT_MS_BY_EDGE_TYPE[t] for t in EDGE_TYPES])


def unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Points on the unit sphere; ``lat``, ``lon`` degrees, shape (n,); returns float64 (n, 3)."""
    p, q = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)], axis=1)


def distance_matrix_km(user_xyz: FloatArray, node_xyz: FloatArray) -> FloatArray:
    """Great-circle km between users (U, 3) and nodes (n, 3); returns float64 (U, n).

    Uses the chord length (one matrix product) instead of haversine per pair: same result,
    far fewer transcendental calls on large fleets.
    """
    # In place throughout: on 100k nodes the temporaries cost more than the arithmetic.
    out: FloatArray = user_xyz @ node_xyz.T
    np.multiply(out, -2.0, out=out)
    out += 2.0
    np.clip(out, 0.0, 4.0, out=out)
    np.sqrt(out, out=out)
    out *= 0.5
    np.minimum(out, 1.0, out=out)
    np.arcsin(out, out=out)
    out *= 2.0 * EARTH_RADIUS_KM
    return out


def rtt_from_distance(distance_km: FloatArray, access_ms: FloatArray) -> FloatArray:
    """Estimated RTT in ms; ``distance_km`` (U, n) or (n,), ``access_ms`` broadcastable."""
    out: FloatArray = distance_km * (2.0 * ROUTE_FACTOR / FIBRE_KM_PER_MS)
    out += access_ms
    # The estimate exceeds the floor whenever access_ms >= 0; keep the max for negative inputs.
    np.maximum(out, distance_km * (1.0 / FLOOR_KM_PER_MS), out=out)
    return out


def apply_measured(rtt: FloatArray, distance_km: FloatArray, measured: FloatArray) -> FloatArray:
    """Replace estimates by measurements where present (not NaN), never below the floor.

    ``rtt``, ``distance_km``: (U, n); ``measured``: (n,) float64, NaN where unmeasured.
    """
    has = ~np.isnan(measured)
    if not has.any():
        return rtt
    replaced = np.where(has[None, :], measured[None, :], rtt)
    out: FloatArray = np.maximum(replaced, distance_km / FLOOR_KM_PER_MS)
    return out


def rtt_ms(
    lat1: float,
    lon1: float,
    lat2: float,
    lon2: float,
    access_ms: float,
    measured_ms: float | None = None,
) -> float:
    """Scalar reference of the model: RTT in ms between a user and a node (degrees)."""

    d = haversine_km(lat1, lon1, lat2, lon2)
    floor = d / FLOOR_KM_PER_MS
    if measured_ms is not None and not math.isnan(measured_ms):
        return max(measured_ms, floor)
    return max(2.0 * ROUTE_FACTOR * d / FIBRE_KM_PER_MS + access_ms, floor)
