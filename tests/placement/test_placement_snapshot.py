"""The columnar snapshot: buffer, bookings, reservations, change feed, forks."""

import numpy as np
import pytest
from tests.placement.placement_fakes import make_instance, make_node, workload

from edgeorch.domain.enums import NodeScheduling
from edgeorch.domain.resources import Resources
from edgeorch.placement import build_snapshot


def test_usable_capacity_keeps_the_15_percent_buffer() -> None:
    snap = build_snapshot([make_node("a", capacity=Resources(cpu=10, memory_mb=1000))])
    assert snap.usable[0, 0] == pytest.approx(8.5)
    assert snap.usable[0, 1] == pytest.approx(850)


def test_instances_are_booked_from_their_workload() -> None:
    spec = workload(cpu=2)
    snap = build_snapshot([make_node("a")], [make_instance("i1", "w", "a")], {"w": spec})
    assert snap.allocated[0, 0] == 2 and snap.instances[0] == 1
    assert snap.placed == {"w": {0: 1}}


def test_unreserve_twice_is_harmless() -> None:
    snap = build_snapshot([make_node("a")])
    res = snap.reserve(0, "w", np.array([1.0, 100, 0, 0, 0]))
    snap.unreserve(res)
    snap.unreserve(res)
    assert snap.allocated[0, 0] == 0 and snap.instances[0] == 0 and snap.placed["w"] == {}


def test_fork_reservations_stay_in_the_fork() -> None:
    snap = build_snapshot([make_node("a")])
    twin = snap.fork()
    twin.reserve(0, "w", np.array([1.0, 0, 0, 0, 0]))
    assert snap.allocated[0, 0] == 0 and twin.allocated[0, 0] == 1


def test_upsert_and_remove_follow_the_change_feed() -> None:
    snap = build_snapshot([make_node("a"), make_node("b")])
    snap.upsert_node(make_node("a", scheduling=NodeScheduling.CORDONED))
    assert not snap.schedulable[snap.index["a"]]
    snap.remove_node("b")
    snap.remove_node("b")
    assert snap.live_count == 1
    row = snap.upsert_node(make_node("c", capabilities=("wasm_runtime",)))
    assert row == 1 and snap.ids[row] == "c"  # the dead row is reused
    for i in range(20):  # growth past the initial size keeps earlier rows
        snap.upsert_node(make_node(f"n{i}", capabilities=(f"cap_{i}",)))
    assert snap.live_count == 22 and snap.caps[snap.index["n19"]].sum() == 1
