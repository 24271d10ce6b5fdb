"""Instance repository: the replicas controllers create, bind, rebind and delete."""

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.instance import Instance, InstanceSpec, InstanceStatus
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.store.errors import Conflict, NotFound
from edgeorch.store.pagination import Page
from edgeorch.store.selectors import LabelSelector
from edgeorch.store.sql import objects
from edgeorch.store.sql.objects import stamp
from edgeorch.store.sql.orm import NAME_LENGTH, InstanceRow, NodeRow, WorkloadRow

KIND = "Instance"


def to_instance(row: InstanceRow) -> Instance:
    """The API model of a row."""
    return Instance(
        metadata=objects.metadata(row),
        spec=InstanceSpec.model_validate(row.spec),
        status=InstanceStatus.model_validate(row.status),
    )


def create_instance(
    *,
    session: Session,
    spec: InstanceSpec,
    tenant: str = DEFAULT_TENANT,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    status: InstanceStatus | None = None,
) -> Instance:
    """Create a replica of a workload of ``tenant``, optionally bound to a node.

    The default name is ``<workload>-<replica>-<5 id digits>``: unique even when a lost replica
    and its replacement share a replica number.
    """
    workload = session.scalar(
        select(WorkloadRow).where(WorkloadRow.id == spec.workload_id, WorkloadRow.tenant == tenant)
    )
    if workload is None:
        raise NotFound("Workload", spec.workload_id, tenant)
    _check_node(session, spec.node_id)
    object_id = objects.new_id()
    suffix = f"-{spec.replica}-{object_id[:5]}"
    name = name or workload.name[: NAME_LENGTH - len(suffix)] + suffix
    objects.check_name_free(session, InstanceRow, KIND, name, tenant)
    status = status or InstanceStatus()
    row = InstanceRow(
        id=object_id,
        tenant=tenant,
        name=name,
        labels=dict(labels or {}),
        spec=spec.model_dump(mode="json"),
        status=status.model_dump(mode="json"),
        workload_id=spec.workload_id,
        node_id=spec.node_id,
        state=status.state.value,
    )
    stamp(session, KIND, row, "created")
    return to_instance(row)


def _check_node(session: Session, node_id: str | None) -> None:
    if node_id is not None and session.get(NodeRow, node_id) is None:
        raise NotFound("Node", node_id)


def read_instance(*, session: Session, ref: str, tenant: str | None = DEFAULT_TENANT) -> Instance:
    """The instance named by id, name or unambiguous id prefix; ``tenant=None`` searches all."""
    return to_instance(objects.find(session, InstanceRow, KIND, ref, tenant))


def list_instances(
    *,
    session: Session,
    tenant: str | None = DEFAULT_TENANT,
    workload_id: str | None = None,
    node_id: str | None = None,
    state: InstanceState | str | None = None,
    label_selector: LabelSelector | str | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> Page[Instance]:
    """A page of instances in (name, id) order; every filter given must hold."""
    where: list[ColumnElement[bool]] = []
    if workload_id is not None:
        where.append(InstanceRow.workload_id == workload_id)
    if node_id is not None:
        where.append(InstanceRow.node_id == node_id)
    if state is not None:
        where.append(InstanceRow.state == str(state))
    return objects.list_page(
        session,
        model=InstanceRow,
        output=Instance,
        kind=KIND,
        tenant=tenant,
        where=where,
        label_selector=label_selector,
        limit=limit,
        continue_token=continue_token,
    )


def update_instance_status(
    *,
    session: Session,
    instance_id: str,
    status: InstanceStatus,
    expected_version: int | None = None,
) -> Instance:
    """Replace an instance's status (its agent or a controller)."""
    row = objects.find(session, InstanceRow, KIND, instance_id, None)
    objects.check_version(KIND, row, expected_version)
    row.status = status.model_dump(mode="json")
    row.state = status.state.value
    stamp(session, KIND, row, "updated")
    return to_instance(row)


def update_instance_spec(
    *,
    session: Session,
    instance_id: str,
    spec: InstanceSpec,
    expected_version: int | None = None,
) -> Instance:
    """Replace an instance's desired state, e.g. bind it to another node or stop it."""
    row = objects.find(session, InstanceRow, KIND, instance_id, None)
    objects.check_version(KIND, row, expected_version)
    if spec.workload_id != row.workload_id:
        raise Conflict(
            f"instance {row.name!r} belongs to workload {row.workload_id}; it cannot move to "
            f"{spec.workload_id}: create an instance of that workload instead"
        )
    _check_node(session, spec.node_id)
    row.spec = spec.model_dump(mode="json")
    row.node_id = spec.node_id
    stamp(session, KIND, row, "updated")
    return to_instance(row)


def delete_instance(
    *,
    session: Session,
    ref: str,
    tenant: str | None = DEFAULT_TENANT,
    expected_version: int | None = None,
) -> Instance:
    """Delete an instance."""
    row = objects.find(session, InstanceRow, KIND, ref, tenant)
    objects.check_version(KIND, row, expected_version)
    instance = to_instance(row)
    stamp(session, KIND, row, "deleted")
    return instance
