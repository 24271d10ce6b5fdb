"""What a decision says about itself: filter counts, ranked candidates, hints when stuck.

Every type here is a frozen dataclass with ``to_dict()`` returning JSON-ready builtins, so the
API, the CLI and instance explanations serialise the same structure.
"""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FilterCount:
    """How many nodes one filter removed from those left by the filters before it."""

    name: str
    reason: str
    removed: int
    remaining: int


@dataclass(frozen=True)
class Candidate:
    """A feasible node with its total score, each raw term in [0, 1] and the modelled RTT."""

    node_id: str
    score: float
    terms: dict[str, float]
    latency_ms: float | None
    worst_latency_ms: float | None
    cost_per_hour: float


@dataclass(frozen=True)
class Assignment:
    """Replica ``replica`` (0-based within the request) goes to ``node_id``."""

    replica: int
    node_id: str
    score: float
    latency_ms: float | None


@dataclass(frozen=True)
class Hint:
    """Relaxing ``constraint`` alone would make ``nodes`` nodes feasible; ``message`` says how."""

    constraint: str
    nodes: int
    message: str


@dataclass(frozen=True)
class Decision:
    """The outcome of placing ``requested`` replicas of one workload."""

    request_id: str
    workload_id: str
    requested: int
    assignments: tuple[Assignment, ...]
    candidates: tuple[Candidate, ...]
    filters: tuple[FilterCount, ...]
    feasible_nodes: int
    total_nodes: int
    weights: dict[str, float]
    decision_ms: float
    notes: tuple[str, ...] = ()
    blocking: tuple[str, ...] = ()
    hints: tuple[Hint, ...] = field(default_factory=tuple)

    @property
    def placed(self) -> int:
        """Replicas placed."""
        return len(self.assignments)

    @property
    def ok(self) -> bool:
        """True when every requested replica was placed."""
        return self.placed == self.requested

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``placed`` and ``ok`` included."""
        out = asdict(self)
        out["placed"] = self.placed
        out["ok"] = self.ok
        return out
