"""Simulated fleets: real cities, brochure node types, deterministic by seed."""

import pytest

from edgeorch.domain.enums import EdgeType, NetworkSlice
from edgeorch.sim.fleet import (
    NODE_TYPES,
    REGIONS,
    FleetError,
    cities_of,
    generate_fleet,
    parse_edge_types,
    parse_regions,
)

BROCHURE = ["us-west", "us-east", "eu-west"]


def test_same_seed_same_fleet_and_different_seed_differs() -> None:
    a = generate_fleet(30, BROCHURE, seed=7)
    b = generate_fleet(30, BROCHURE, seed=7)
    c = generate_fleet(30, BROCHURE, seed=8)
    assert [n.node for n in a] == [n.node for n in b]
    assert [n.name for n in a] != [n.name for n in c]


def test_node_i_does_not_depend_on_the_fleet_size() -> None:
    small, large = generate_fleet(5, BROCHURE, seed=1), generate_fleet(50, BROCHURE, seed=1)
    assert [n.node for n in small] == [n.node for n in large[:5]]


@pytest.mark.parametrize(
    ("region", "countries"),
    [
        ("us-west", {"US"}),
        ("eu-west", set(REGIONS["eu-west"].countries)),
        ("ap-southeast", set(REGIONS["ap-southeast"].countries)),
        ("au-southeast", {"AU", "NZ"}),
    ],
)
def test_nodes_stand_in_real_cities_of_their_region(region: str, countries: set[str]) -> None:
    fleet = generate_fleet(40, [region], seed=3)
    assert {n.node.spec.country for n in fleet} <= countries
    assert all(n.node.spec.region == region for n in fleet)
    biggest = cities_of(region)[0]
    assert biggest.population > 1_000_000


def test_us_west_cities_are_in_the_west() -> None:
    for node in generate_fleet(60, ["us-west"], seed=2):
        assert node.node.spec.location.longitude < -100


def test_regions_are_spread_round_robin() -> None:
    fleet = generate_fleet(9, BROCHURE, seed=0)
    assert [n.node.spec.region for n in fleet] == BROCHURE * 3


def test_asked_for_edge_types_take_turns_with_brochure_capacities() -> None:
    fleet = generate_fleet(6, BROCHURE, edge_types=[EdgeType.MEC, EdgeType.CDN, EdgeType.IOT])
    kinds = [n.node.spec.edge_type for n in fleet]
    assert kinds == [EdgeType.MEC, EdgeType.CDN, EdgeType.IOT] * 2
    mec, cdn, iot = (n.node.spec for n in fleet[:3])
    assert (mec.capacity.cpu, mec.capacity.memory_mb) == (16, 64 * 1024)
    assert set(mec.network_slices) == {NetworkSlice.URLLC, NetworkSlice.EMBB}
    assert (cdn.capacity.cpu, cdn.capacity.storage_gb, cdn.capacity.bandwidth_mbps) == (
        8,
        10_000,
        25_000,
    )
    assert "object_storage" in cdn.capabilities
    assert iot.capacity.memory_mb in NODE_TYPES[EdgeType.IOT].memory_choices_mb
    assert fleet[0].access_rtt_ms == 8.0  # the placement model's MEC access RTT


def test_unknown_region_names_the_known_ones() -> None:
    with pytest.raises(FleetError, match=r"'mars-north'.*known regions: us-west"):
        parse_regions("us-west,mars-north")


def test_unknown_edge_type_names_the_known_ones() -> None:
    with pytest.raises(FleetError, match=r"'fog'.*known: mec, cdn"):
        parse_edge_types("mec,fog")
    assert parse_edge_types(None) == []
