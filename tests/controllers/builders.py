"""Small builders of API objects for pure controller tests (no store)."""

from datetime import UTC, datetime
from typing import Any

from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.envelope import Metadata
from edgeorch.schemas.instance import Instance, InstanceSpec, InstanceStatus
from edgeorch.schemas.workload import Workload, WorkloadSpec, WorkloadStatus

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def meta(object_id: str, version: int = 1) -> Metadata:
    return Metadata(
        id=object_id, name=object_id, tenant="default", resource_version=version,
        created_at=T0, updated_at=T0,
    )  # fmt: skip


def workload(replicas: int = 2, **spec: Any) -> Workload:
    body: dict[str, Any] = {"runtime": "process", "artifact": {"command": ["true"]}}
    body.update(spec)
    if "scaling" not in spec:
        body["replicas"] = replicas
    ws = WorkloadSpec.model_validate(body)
    return Workload(metadata=meta("w"), spec=ws, status=WorkloadStatus(desired_replicas=replicas))


def instance(
    name: str,
    node: str | None,
    replica: int = 0,
    *,
    state: InstanceState = InstanceState.RUNNING,
    desired: str = "running",
    score: float | None = 0.5,
    replaces: str | None = None,
    reason: str = "lost",
) -> Instance:
    explanation = {"replaces": replaces, "reason": reason} if replaces else {}
    return Instance(
        metadata=meta(name),
        spec=InstanceSpec.model_validate(
            {"workload_id": "w", "node_id": node, "replica": replica, "desired_state": desired}
        ),
        status=InstanceStatus(state=state, score=score, explanation=explanation),
    )
