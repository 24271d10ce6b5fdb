"""The columnar fleet snapshot: one NumPy column per node fact, one row per node slot.

Invariants (protected here, relied on by every plugin):

- Row ``i`` describes node ``ids[i]``; a removed node leaves a dead row (``alive[i]`` False) that a
  later new node may reuse, so rows of live nodes never move.
- ``usable = capacity * (1 - edge_resource_buffer)``; free capacity is ``usable - allocated``.
- ``allocated = max(reported, booked)`` per resource: ``reported`` is the agent's
  ``NodeStatus.allocated``, ``booked`` the sum of known instances and reservations. Taking the
  larger never under-counts, whichever of the two already includes the other.
- ``unreserve`` of a reservation that is no longer held does nothing, so it is safe to call twice.

A :meth:`FleetSnapshot.fork` shares the static columns and copies the allocation columns, so a
dry run can reserve freely without touching the original.
"""

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeorch.domain.enums import Arch, NetworkSlice, NodeScheduling, NodeState
from edgeorch.domain.resources import Resources
from edgeorch.placement.config import DEFAULT_CONFIG, RESOURCE_FIELDS, PlacementConfig
from edgeorch.placement.latency import EDGE_TYPES, unit_vectors
from edgeorch.placement.vocab import Vocab
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import WorkloadSpec

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

ARCHES: tuple[Arch, ...] = tuple(Arch)
SLICES: tuple[NetworkSlice, ...] = tuple(NetworkSlice)
_EDGE_CODE = {t: i for i, t in enumerate(EDGE_TYPES)}
_ARCH_CODE = {a: i for i, a in enumerate(ARCHES)}
_SLICE_BIT = {s: 1 << i for i, s in enumerate(SLICES)}
_NR = len(RESOURCE_FIELDS)
_NO_ZONE = ""


def _resources(n: int) -> FloatArray:
    return np.zeros((n, _NR), order="F")


def resource_vector(res: Resources) -> FloatArray:
    """A :class:`Resources` as float64 (5,) in :data:`RESOURCE_FIELDS` order."""
    return np.array([float(getattr(res, f)) for f in RESOURCE_FIELDS])


def slice_bit(s: NetworkSlice) -> int:
    """Bit of ``s`` in the ``slices`` bitmask column."""
    return _SLICE_BIT[s]


@dataclass(frozen=True)
class Reservation:
    """Capacity held on one node for one replica of one workload."""

    id: int
    node_id: str
    row: int
    workload_id: str
    request: tuple[float, ...]


class FleetSnapshot:
    """Columns (``n`` = number of row slots, live or dead):

    - ``alive``, ``schedulable``: bool (n,); schedulable = state ``ready`` and scheduling
      ``enabled``.
    - ``lat``, ``lon``: float64 (n,) degrees; ``xyz``: float64 (n, 3) unit vectors.
    - ``capacity``, ``usable``, ``reported``, ``booked``, ``allocated``: float64 (n, 5).
    - ``instances``: int64 (n,), ``reported_instances``, ``booked_instances`` likewise.
    - ``reported_util``: float64 (n,), mean of the agent's cpu and memory utilization.
    - ``cost``: float64 (n,) USD/hour.
    - ``edge_type``, ``arch``: int64 (n,) codes into :data:`EDGE_TYPES`, :data:`ARCHES`.
    - ``slices``: int64 (n,) bitmask of :data:`SLICES`.
    - ``country``, ``region``, ``zone``: int64 (n,) codes into the vocabularies.
    - ``caps``: bool (n, k), column ``c`` is capability ``capability_vocab.words[c]``.
    - ``measured``: dict target -> float64 (n,), NaN where the node did not measure it.
    """

    def __init__(self, config: PlacementConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        self.ids: list[str | None] = []
        self.index: dict[str, int] = {}
        self.country_vocab, self.region_vocab = Vocab(), Vocab()
        self.zone_vocab, self.capability_vocab = Vocab(), Vocab()
        self._free_rows: list[int] = []
        self.measured: dict[str, FloatArray] = {}
        self.placed: dict[str, dict[int, int]] = {}
        self._reservations: dict[int, Reservation] = {}
        self._ids = itertools.count(1)
        self._alloc_columns(0)

    # -- storage ---------------------------------------------------------------------------

    def _alloc_columns(self, n: int) -> None:
        self.alive = np.zeros(n, bool)
        self.schedulable = np.zeros(n, bool)
        self.lat, self.lon = np.zeros(n), np.zeros(n)
        self.xyz = np.zeros((n, 3))
        # Column-major so one resource over all nodes is a contiguous vector.
        self.capacity, self.usable = _resources(n), _resources(n)
        self.reported, self.booked = _resources(n), _resources(n)
        self.allocated = _resources(n)
        self.instances = np.zeros(n, np.int64)
        self.reported_instances = np.zeros(n, np.int64)
        self.booked_instances = np.zeros(n, np.int64)
        self.reported_util, self.cost = np.zeros(n), np.zeros(n)
        self.edge_type, self.arch = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.slices = np.zeros(n, np.int64)
        self.country, self.region = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.zone = np.zeros(n, np.int64)
        self.caps = np.zeros((n, 0), bool)

    _ROW_COLUMNS = (
        "alive schedulable lat lon xyz capacity usable reported booked allocated instances "
        "reported_instances booked_instances reported_util cost edge_type arch slices country "
        "region zone caps"
    ).split()

    def _grow(self, rows: int) -> None:
        for name in self._ROW_COLUMNS:
            old = getattr(self, name)
            new = np.zeros((rows, *old.shape[1:]), old.dtype, order="F")
            new[: len(old)] = old
            setattr(self, name, new)
        for target, col in self.measured.items():
            self.measured[target] = np.concatenate([col, np.full(rows - len(col), np.nan)])

    def _capability_column(self, word: str) -> int:
        code = self.capability_vocab.code(word)
        if code >= self.caps.shape[1]:
            # Grow by doubling so a fleet with many capability words stays linear to build.
            extra = max(4, self.caps.shape[1])
            self.caps = np.concatenate([self.caps, np.zeros((len(self.caps), extra), bool)], 1)
        return code

    def _measured_column(self, target: str) -> FloatArray:
        col = self.measured.get(target)
        if col is None:
            col = np.full(len(self.alive), np.nan)
            self.measured[target] = col
        return col

    @property
    def size(self) -> int:
        """Number of row slots, live or dead; every column has this many rows."""
        return len(self.ids)

    @property
    def live_count(self) -> int:
        """Number of live nodes."""
        return len(self.index)

    # -- change feed -----------------------------------------------------------------------

    def upsert_node(self, node: Node) -> int:
        """Insert or replace a node's facts; returns its row. Bookings on the row are kept."""
        node_id = node.metadata.id
        row = self.index.get(node_id)
        if row is None:
            row = self._new_row(node_id)
        self._write_row(row, node)
        return row

    def _new_row(self, node_id: str) -> int:
        if self._free_rows:
            row = self._free_rows.pop()
            self.ids[row] = node_id
        else:
            row = len(self.ids)
            self.ids.append(node_id)
            if row >= len(self.alive):
                self._grow(max(8, 2 * len(self.alive)))
        self.index[node_id] = row
        return row

    def _write_row(self, row: int, node: Node) -> None:
        spec, status = node.spec, node.status
        self.alive[row] = True
        self.schedulable[row] = (
            status.state == NodeState.READY and spec.scheduling == NodeScheduling.ENABLED
        )
        self.lat[row], self.lon[row] = spec.location.latitude, spec.location.longitude
        self.xyz[row] = unit_vectors(self.lat[row : row + 1], self.lon[row : row + 1])[0]
        self.capacity[row] = resource_vector(spec.capacity)
        self.usable[row] = self.capacity[row] * (1.0 - self.config.edge_resource_buffer)
        self.reported[row] = resource_vector(status.allocated)
        self.reported_instances[row] = status.instances
        self.reported_util[row] = (status.utilization.cpu + status.utilization.memory) / 2.0
        self.cost[row] = spec.cost_per_hour
        self.edge_type[row] = _EDGE_CODE[spec.edge_type]
        self.arch[row] = _ARCH_CODE[spec.arch]
        self.slices[row] = sum(_SLICE_BIT[s] for s in set(spec.network_slices))
        self.country[row] = self.country_vocab.code(spec.country)
        self.region[row] = self.region_vocab.code(spec.region)
        self.zone[row] = self.zone_vocab.code(f"{spec.region}/{spec.zone or _NO_ZONE}")
        self.caps[row] = False
        for word in spec.capabilities:
            column = self._capability_column(word)  # may reallocate self.caps
            self.caps[row, column] = True
        for col in self.measured.values():
            col[row] = np.nan
        for target, value in status.measured_rtt_ms.items():
            self._measured_column(target)[row] = value
        self._refresh_row(row)

    def remove_node(self, node_id: str) -> None:
        """Forget a node; its row becomes dead. Unknown ids are ignored (idempotent)."""
        row = self.index.pop(node_id, None)
        if row is None:
            return
        self.ids[row] = None
        self.alive[row] = self.schedulable[row] = False
        for res in [r for r in self._reservations.values() if r.row == row]:
            self.unreserve(res)
        self.booked[row] = 0.0
        self.booked_instances[row] = 0
        for counts in self.placed.values():
            counts.pop(row, None)
        self._free_rows.append(row)

    # -- reservations ----------------------------------------------------------------------

    def _refresh_row(self, row: int) -> None:
        self.allocated[row] = np.maximum(self.reported[row], self.booked[row])
        self.instances[row] = max(self.reported_instances[row], self.booked_instances[row])

    def reserve(self, row: int, workload_id: str, request: FloatArray) -> Reservation:
        """Book ``request`` (float64 (5,)) on ``row`` for one replica of ``workload_id``.

        Does not check the fit: the filters decide, this only accounts.
        """
        node_id = self.ids[row]
        if node_id is None:
            raise KeyError(f"row {row} holds no node")
        res = Reservation(next(self._ids), node_id, row, workload_id, tuple(request.tolist()))
        self._reservations[res.id] = res
        self._book(row, workload_id, request, +1)
        return res

    def unreserve(self, res: Reservation) -> None:
        """Release a reservation; a second call for the same one does nothing."""
        if self._reservations.pop(res.id, None) is None:
            return
        self._book(res.row, res.workload_id, np.array(res.request), -1)

    def _book(self, row: int, workload_id: str, request: FloatArray, sign: int) -> None:
        self.booked[row] = np.maximum(self.booked[row] + sign * request, 0.0)
        self.booked_instances[row] = max(0, self.booked_instances[row] + sign)
        counts = self.placed.setdefault(workload_id, {})
        counts[row] = counts.get(row, 0) + sign
        if counts[row] <= 0:
            del counts[row]
        self._refresh_row(row)

    @property
    def reservations(self) -> tuple[Reservation, ...]:
        """Reservations currently held, oldest first."""
        return tuple(self._reservations.values())

    def placed_rows(self, workload_id: str) -> tuple[IntArray, IntArray]:
        """Rows holding replicas of ``workload_id`` and how many each: two int64 (m,) arrays."""
        counts = self.placed.get(workload_id, {})
        rows = np.fromiter(counts.keys(), np.int64, len(counts))
        return rows, np.fromiter(counts.values(), np.int64, len(counts))

    def fork(self) -> "FleetSnapshot":
        """A copy whose reservations do not affect this snapshot. Static columns are shared:
        call ``upsert_node``/``remove_node`` on the original only."""
        twin = copy.copy(self)
        for name in ("booked", "allocated", "booked_instances", "instances"):
            setattr(twin, name, getattr(self, name).copy())
        twin.placed = {w: dict(c) for w, c in self.placed.items()}
        twin._reservations = dict(self._reservations)
        return twin


def build_snapshot(
    nodes: Sequence[Node],
    instances: Sequence[Instance] = (),
    workloads: Mapping[str, WorkloadSpec] | None = None,
    config: PlacementConfig = DEFAULT_CONFIG,
) -> FleetSnapshot:
    """A snapshot of ``nodes`` with ``instances`` booked.

    An instance counts when it is desired running and bound to a known node; its resources are
    its workload's per-replica request from ``workloads`` (keyed by workload id), or zero when
    the workload is unknown (it still takes an instance slot).
    """
    snap = FleetSnapshot(config)
    snap._grow(len(nodes))
    for node in nodes:
        snap.upsert_node(node)
    specs = workloads or {}
    for inst in instances:
        row = snap.index.get(inst.spec.node_id or "")
        if row is None or inst.spec.desired_state != "running":
            continue
        spec = specs.get(inst.spec.workload_id)
        request = resource_vector(spec.resources) if spec else np.zeros(_NR)
        snap.reserve(row, inst.spec.workload_id, request)
    return snap
