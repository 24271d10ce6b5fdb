"""The latency model: fibre distance plus access, measured override, physical floor."""

import numpy as np
import pytest

from edgeorch.domain.enums import EdgeType, NetworkSlice
from edgeorch.domain.geo import haversine_km
from edgeorch.placement.latency import (
    ACCESS_RTT_MS_BY_EDGE_TYPE,
    ACCESS_RTT_MS_BY_SLICE,
    apply_measured,
    distance_matrix_km,
    rtt_from_distance,
    rtt_ms,
    unit_vectors,
)

BERLIN, PARIS = (52.52, 13.405), (48.857, 2.352)


@pytest.mark.parametrize(
    ("distance_km", "access", "expected"),
    [
        (0.0, 8.0, 8.0),  # co-located: only the access network
        (1000.0, 8.0, 2 * 2.1 * 1000 / 200 + 8.0),  # 21 ms of fibre + access
        (1000.0, -50.0, 10.0),  # nothing beats 1 ms per 100 km
    ],
)
def test_rtt_from_distance(distance_km: float, access: float, expected: float) -> None:
    got = rtt_from_distance(np.array([distance_km]), np.array([access]))
    assert got[0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        (float("nan"), None),  # unmeasured: the estimate stands
        (30.0, 30.0),  # a measurement replaces the estimate
        (0.5, 878.0 / 100),  # but never below the physical floor
    ],
)
def test_measured_replaces_estimate_above_floor(measured: float, expected: float | None) -> None:
    d = haversine_km(*BERLIN, *PARIS)
    estimate = rtt_ms(*BERLIN, *PARIS, access_ms=8.0)
    got = rtt_ms(*BERLIN, *PARIS, access_ms=8.0, measured_ms=measured)
    want = estimate if expected is None else max(expected, d / 100)
    assert got == pytest.approx(want, rel=1e-3)
    vec = apply_measured(np.array([[estimate]]), np.array([[d]]), np.array([measured]))
    assert vec[0, 0] == pytest.approx(want, rel=1e-3)


def test_chord_distance_matches_haversine() -> None:
    users = unit_vectors(np.array([BERLIN[0]]), np.array([BERLIN[1]]))
    nodes = unit_vectors(np.array([PARIS[0], -33.87]), np.array([PARIS[1], 151.21]))
    got = distance_matrix_km(users, nodes)[0]
    assert got[0] == pytest.approx(haversine_km(*BERLIN, *PARIS), rel=1e-9)
    assert got[1] == pytest.approx(haversine_km(*BERLIN, -33.87, 151.21), rel=1e-9)


def test_access_constants_are_ordered_by_network() -> None:
    assert ACCESS_RTT_MS_BY_SLICE[NetworkSlice.URLLC] < ACCESS_RTT_MS_BY_SLICE[NetworkSlice.EMBB]
    assert ACCESS_RTT_MS_BY_EDGE_TYPE[EdgeType.MEC] < ACCESS_RTT_MS_BY_EDGE_TYPE[EdgeType.CLOUD]
    assert set(ACCESS_RTT_MS_BY_EDGE_TYPE) == set(EdgeType)
