"""Builders shared by the placement tests: nodes, workloads and instances with defaults."""

from edgeorch.domain.enums import InstanceState
from edgeorch.domain.resources import Resources
from edgeorch.placement.synthetic import EPOCH, make_node
from edgeorch.schemas.envelope import Metadata
from edgeorch.schemas.instance import Instance, InstanceSpec, InstanceStatus
from edgeorch.schemas.workload import Artifact, PlacementSpec, UserPoint, WorkloadSpec

__all__ = ["FRANKFURT", "make_instance", "make_node", "workload"]

FRANKFURT = (50.11, 8.68)


def workload(
    *,
    replicas: int = 1,
    cpu: float = 1.0,
    memory_mb: int = 512,
    users: tuple[tuple[float, float], ...] = (FRANKFURT,),
    **placement: object,
) -> WorkloadSpec:
    """A container workload with users at ``users`` and any PlacementSpec fields."""
    return WorkloadSpec(
        runtime="container",
        artifact=Artifact(image="x:1"),
        replicas=replicas,
        resources=Resources(cpu=cpu, memory_mb=memory_mb),
        placement=PlacementSpec(
            users=[UserPoint(latitude=a, longitude=b) for a, b in users], **placement
        ),
    )


def make_instance(instance_id: str, workload_id: str, node_id: str) -> Instance:
    """A running instance of ``workload_id`` on ``node_id``."""
    meta = Metadata(
        id=instance_id,
        name=instance_id,
        tenant="default",
        resource_version=1,
        created_at=EPOCH,
        updated_at=EPOCH,
    )
    return Instance(
        metadata=meta,
        spec=InstanceSpec(workload_id=workload_id, node_id=node_id, replica=0),
        status=InstanceStatus(state=InstanceState.RUNNING),
    )
