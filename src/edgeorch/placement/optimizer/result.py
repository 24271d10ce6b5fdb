"""What the optimiser returns: moves, new placements, objectives and the proven gap."""

from dataclasses import asdict, dataclass
from typing import Any

from edgeorch.schemas.workload import PlacementWeights


@dataclass(frozen=True)
class ObjectiveWeights:
    """Weights of the objective. ``placement`` overrides every workload's score weights;
    ``move`` is charged per instance whose node changes; ``unplaced`` per replica left unplaced
    (None: 10 x the largest per-replica cost, so placing always wins)."""

    placement: PlacementWeights | None = None
    move: float = 0.01
    unplaced: float | None = None


@dataclass(frozen=True)
class Move:
    """Instance ``instance_id`` of ``workload_id`` moves from ``source`` to ``target``
    (``target`` None: it has nowhere to go). ``forced``: its node no longer accepts it."""

    instance_id: str
    workload_id: str
    source: str | None
    target: str | None
    forced: bool = False


@dataclass(frozen=True)
class NewReplicas:
    """``count`` replicas of ``workload_id`` not running yet go to ``node_id``."""

    workload_id: str
    node_id: str
    count: int


@dataclass(frozen=True)
class OptimizeResult:
    """Outcome of :func:`~edgeorch.placement.optimizer.optimize`.

    ``gap`` is the proven relative optimality gap ``(objective_after - bound) / objective_after``;
    ``greedy_gap`` the same for the greedy baseline against the same bound.
    """

    status: str
    moves: tuple[Move, ...]
    new_replicas: tuple[NewReplicas, ...]
    objective_before: float
    objective_after: float
    bound: float
    gap: float
    greedy_objective: float
    greedy_gap: float
    placed: int
    unplaced: int
    solve_ms: float
    assignment: dict[str, dict[str, int]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
