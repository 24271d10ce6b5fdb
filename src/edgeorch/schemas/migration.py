"""Migration: moving one instance to another node, cold, with its Wasm state, or live.

Phases and the progress reached when each one completes (the brochure's numbers)::

    pre_checks 10 %  →  snapshot 30 %  →  transfer 70 %  →  switchover 90 %  →  cleanup 100 %

What each phase does per type is in ``docs/migrations.md``. ``state`` is ``pending`` (accepted,
not yet looked at), ``running``, then one of ``succeeded``, ``failed`` (nothing had changed yet)
or ``rolled_back`` (the source kept, or got back, the instance).
"""

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeorch.schemas.common import StrictModel
from edgeorch.schemas.envelope import API_VERSION, Metadata


class MigrationType(StrEnum):
    """How the instance moves."""

    LIVE = "live"
    COLD = "cold"
    SNAPSHOT = "snapshot"


class MigrationState(StrEnum):
    """Where a migration is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class MigrationPhase(StrEnum):
    """The brochure's five phases, plus ``pending`` before the first."""

    PENDING = "pending"
    PRE_CHECKS = "pre_checks"
    SNAPSHOT = "snapshot"
    TRANSFER = "transfer"
    SWITCHOVER = "switchover"
    CLEANUP = "cleanup"


PHASES = (
    MigrationPhase.PRE_CHECKS,
    MigrationPhase.SNAPSHOT,
    MigrationPhase.TRANSFER,
    MigrationPhase.SWITCHOVER,
    MigrationPhase.CLEANUP,
)
# Progress once a phase has completed.
PROGRESS = {
    MigrationPhase.PENDING: 0,
    MigrationPhase.PRE_CHECKS: 10,
    MigrationPhase.SNAPSHOT: 30,
    MigrationPhase.TRANSFER: 70,
    MigrationPhase.SWITCHOVER: 90,
    MigrationPhase.CLEANUP: 100,
}
ACTIVE_STATES = (MigrationState.PENDING, MigrationState.RUNNING)
DEFAULT_MAX_DOWNTIME_MS = 300.0  # QEMU's default downtime limit
AUTO = "auto"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, None: 1000.0}


def parse_duration_ms(value: str | float | int) -> float:
    """Milliseconds of ``"50ms"``, ``"5s"``, ``"1m"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"{value!r} is not a positive duration")
        return float(value) * 1000.0
    match = _DURATION.match(value)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            f"{value!r} is not a duration; use a positive number with ms, s or m "
            "(for example '50ms', '5s') or a number of seconds"
        )
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


class MigrationRequest(StrictModel):
    """Body of ``POST /api/v1/migrations``."""

    instance: str = Field(min_length=1, description="instance id, name or id prefix")
    target_node: str | None = Field(
        default=None, description="node id or name; omitted or 'auto': the placement engine picks"
    )
    type: MigrationType = MigrationType.LIVE
    max_downtime: str | float = Field(
        default="300ms", description="longest acceptable pause, e.g. '50ms', '5s'"
    )
    reason: str = Field(default="manual", min_length=1, max_length=200)

    @field_validator("max_downtime")
    @classmethod
    def _duration(cls, value: str | float) -> str | float:
        parse_duration_ms(value)
        return value

    def max_downtime_ms(self) -> float:
        """``max_downtime`` in milliseconds."""
        return parse_duration_ms(self.max_downtime)


class MigrationSpec(BaseModel):
    """What was asked: fixed once the migration is created."""

    instance_id: str
    instance_name: str
    workload_id: str
    workload_name: str
    runtime: str
    source_node_id: str
    target_node_id: str
    automatic: bool = False
    type: MigrationType
    max_downtime_ms: float = DEFAULT_MAX_DOWNTIME_MS
    reason: str = "manual"


class PhaseTimes(BaseModel):
    """When a phase began and ended."""

    started_at: datetime | None = None
    finished_at: datetime | None = None


class MigrationStatus(BaseModel):
    """Where the migration is, and what it measured."""

    state: MigrationState = MigrationState.PENDING
    phase: MigrationPhase = MigrationPhase.PENDING
    progress: int = Field(default=0, ge=0, le=100)
    target_instance_id: str | None = None
    phases: dict[str, PhaseTimes] = Field(default_factory=dict)
    downtime_ms: float | None = None
    bytes_transferred: int | None = None
    precopy_rounds: int | None = None
    message: str = ""
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Pending or running."""
        return self.state in ACTIVE_STATES


class Migration(BaseModel):
    """A migration as the API returns it."""

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Migration"] = "Migration"
    metadata: Metadata
    spec: MigrationSpec
    status: MigrationStatus

    model_config = ConfigDict(populate_by_name=True)


class MigrationReport(StrictModel):
    """What an agent tells the server about a hand-off (``POST .../migrations/{id}/report``)."""

    event: Literal["transfer", "switched", "failed"]
    downtime_ms: float | None = Field(default=None, ge=0)
    bytes_transferred: int | None = Field(default=None, ge=0)
    precopy_rounds: int | None = Field(default=None, ge=0)
    message: str = Field(default="", max_length=2000)
    timings_ms: dict[str, float] = Field(default_factory=dict)
