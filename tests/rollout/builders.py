"""Builders for rollout, drain and autoscale decision tests (no store)."""

from datetime import UTC, datetime
from typing import Any

from edgeorch.controllers.rollout import template_hash
from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.envelope import Metadata
from edgeorch.schemas.instance import Instance, InstanceSpec, InstanceStatus
from edgeorch.schemas.workload import (
    RolloutStatus,
    Workload,
    WorkloadRevision,
    WorkloadSpec,
    WorkloadStatus,
)

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
V1 = ["/bin/v1"]
V2 = ["/bin/v2"]


def meta(object_id: str, version: int = 1) -> Metadata:
    return Metadata(
        id=object_id, name=object_id, tenant="default", resource_version=version,
        created_at=T0, updated_at=T0,
    )  # fmt: skip


def spec(command: list[str], replicas: int = 3, **extra: Any) -> WorkloadSpec:
    body: dict[str, Any] = {
        "runtime": "process",
        "artifact": {"command": command, "port": 8080},
        "health_check": {"http_path": "/healthz", "interval_seconds": 1},
    }
    body.update(extra)
    if "scaling" not in extra:
        body["replicas"] = replicas
    return WorkloadSpec.model_validate(body)


def revision(number: int, command: list[str]) -> WorkloadRevision:
    s = spec(command)
    return WorkloadRevision(number=number, hash=template_hash(s), template=s.template())


def workload(
    command: list[str],
    replicas: int = 3,
    *,
    current: int = 1,
    history: tuple[tuple[int, list[str]], ...] = ((1, V1),),
    rollout: RolloutStatus | None = None,
    **extra: Any,
) -> Workload:
    s = spec(command, replicas, **extra)
    status = WorkloadStatus(
        desired_replicas=replicas,
        revision=current,
        revisions=[revision(n, c) for n, c in history],
        rollout=rollout,
    )
    return Workload(metadata=meta("w"), spec=s, status=status)


def inst(
    name: str,
    generation: int,
    *,
    node: str = "a",
    replica: int = 0,
    state: InstanceState = InstanceState.RUNNING,
    healthy: bool | None = True,
    cpu: float | None = None,
    replaces: str | None = None,
    reason: str = "drain",
) -> Instance:
    explanation = {"replaces": replaces, "reason": reason} if replaces else {}
    return Instance(
        metadata=meta(name),
        spec=InstanceSpec(workload_id="w", node_id=node, replica=replica, generation=generation),
        status=InstanceStatus(
            state=state, healthy=healthy, score=0.5, explanation=explanation, cpu_cores=cpu
        ),
    )
