"""Workload repository: create, address, list, replace, scale, report status, delete.

``status.generation`` counts spec changes, so controllers can tell (by comparing it with
``observed_generation``) whether they have acted on the latest spec.
"""

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from edgeorch.domain.enums import Runtime
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.schemas.workload import (
    Workload,
    WorkloadCreate,
    WorkloadSpec,
    WorkloadStatus,
    WorkloadUpdate,
)
from edgeorch.store.errors import Conflict, InvalidRequest
from edgeorch.store.pagination import DocumentPage, Page
from edgeorch.store.selectors import LabelSelector
from edgeorch.store.sql import objects
from edgeorch.store.sql.objects import stamp
from edgeorch.store.sql.orm import InstanceRow, WorkloadRow

KIND = "Workload"


def to_workload(row: WorkloadRow) -> Workload:
    """The API model of a row."""
    return Workload(
        metadata=objects.metadata(row),
        spec=WorkloadSpec.model_validate(row.spec),
        status=WorkloadStatus.model_validate(row.status),
    )


def _desired(spec: WorkloadSpec, current: int | None) -> int:
    """Replicas wanted now: the fixed count, or the current count kept inside scaling bounds."""
    if spec.scaling is None:
        return spec.replicas or 0
    start = spec.scaling.min if current is None else current
    return min(max(start, spec.scaling.min), spec.scaling.max)


def create_workload(
    *, session: Session, workload: WorkloadCreate, tenant: str | None = None
) -> Workload:
    """Create a workload at generation 1."""
    tenant = objects.resolve_tenant(tenant, workload.metadata.tenant, DEFAULT_TENANT)
    objects.require_tenant(session, tenant)
    objects.check_name_free(session, WorkloadRow, KIND, workload.metadata.name, tenant)
    status = WorkloadStatus(desired_replicas=_desired(workload.spec, None), generation=1)
    values = {
        "id": objects.new_id(),
        "tenant": tenant,
        "name": workload.metadata.name,
        "labels": dict(workload.metadata.labels),
        "spec": workload.spec.model_dump(mode="json"),
        "status": status.model_dump(mode="json"),
        "runtime": workload.spec.runtime.value,
    }
    meta = objects.insert_new(session, WorkloadRow, KIND, values)
    return Workload(metadata=meta, spec=workload.spec, status=status)


def read_workload(*, session: Session, ref: str, tenant: str | None = DEFAULT_TENANT) -> Workload:
    """The workload named by id, name or unambiguous id prefix; ``tenant=None`` searches all."""
    return to_workload(objects.find(session, WorkloadRow, KIND, ref, tenant))


def list_workloads(
    *,
    session: Session,
    tenant: str | None = DEFAULT_TENANT,
    runtime: Runtime | str | None = None,
    label_selector: LabelSelector | str | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> Page[Workload]:
    """A page of workloads in (name, id) order."""
    return objects.list_page(
        session,
        model=WorkloadRow,
        output=Workload,
        kind=KIND,
        tenant=tenant,
        where=_filters(runtime),
        label_selector=label_selector,
        limit=limit,
        continue_token=continue_token,
    )


def list_workload_documents(
    *,
    session: Session,
    tenant: str | None = DEFAULT_TENANT,
    runtime: Runtime | str | None = None,
    label_selector: LabelSelector | str | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> DocumentPage:
    """:func:`list_workloads` as the JSON texts the API answers (``objects.list_documents``)."""
    return objects.list_documents(
        session,
        model=WorkloadRow,
        kind=KIND,
        tenant=tenant,
        where=_filters(runtime),
        label_selector=label_selector,
        limit=limit,
        continue_token=continue_token,
    )


def _filters(runtime: Runtime | str | None) -> list[ColumnElement[bool]]:
    return [] if runtime is None else [WorkloadRow.runtime == str(runtime)]


def update_workload(
    *,
    session: Session,
    ref: str,
    tenant: str | None = DEFAULT_TENANT,
    workload: WorkloadUpdate,
    expected_version: int | None = None,
) -> Workload:
    """Replace spec and labels. ``expected_version`` defaults to ``metadata.resource_version``.
    A changed spec bumps ``status.generation``; the name cannot change."""
    row = objects.find(session, WorkloadRow, KIND, ref, tenant)
    if expected_version is None:
        expected_version = workload.metadata.resource_version
    objects.check_version(KIND, row, expected_version)
    if workload.metadata.name != row.name:
        raise Conflict(
            f"workload {row.name!r} cannot be renamed to {workload.metadata.name!r}; names are "
            "immutable: create a new workload and delete the old one"
        )
    spec = workload.spec.model_dump(mode="json")
    status = WorkloadStatus.model_validate(row.status)
    if spec != row.spec:
        status.generation += 1
        status.desired_replicas = _desired(workload.spec, status.desired_replicas)
        row.spec = spec
        row.runtime = workload.spec.runtime.value
        row.status = status.model_dump(mode="json")
    labels_changed = workload.metadata.labels != row.labels
    row.labels = dict(workload.metadata.labels)
    stamp(session, KIND, row, "updated", labels_changed=labels_changed)
    return to_workload(row)


def scale_workload(
    *,
    session: Session,
    ref: str,
    tenant: str | None = DEFAULT_TENANT,
    replicas: int,
    expected_version: int | None = None,
) -> Workload:
    """Set the replica count. A fixed-count workload gets a new spec (and generation); one
    managed by ``scaling`` keeps its spec and gets ``status.desired_replicas``, within bounds."""
    row = objects.find(session, WorkloadRow, KIND, ref, tenant)
    objects.check_version(KIND, row, expected_version)
    spec = WorkloadSpec.model_validate(row.spec)
    status = WorkloadStatus.model_validate(row.status)
    _check_scale(row.name, spec, replicas)
    if spec.scaling is None and spec.replicas != replicas:
        spec.replicas = replicas
        status.generation += 1
        row.spec = spec.model_dump(mode="json")
    status.desired_replicas = replicas
    status.last_scaled_at = objects.now(session)
    row.status = status.model_dump(mode="json")
    stamp(session, KIND, row, "updated")
    return to_workload(row)


def _check_scale(name: str, spec: WorkloadSpec, replicas: int) -> None:
    if replicas < 0:
        raise InvalidRequest(f"replicas {replicas} is negative; use 0 or more")
    if spec.singleton and replicas > 1:
        raise InvalidRequest(
            f"workload {name!r} is a singleton and runs at most 1 replica, not {replicas}"
        )
    bounds = spec.scaling
    if bounds is not None and not bounds.min <= replicas <= bounds.max:
        raise InvalidRequest(
            f"workload {name!r} is autoscaled between {bounds.min} and {bounds.max} replicas; "
            f"{replicas} is outside that range: pick a count inside it or change spec.scaling"
        )


def update_workload_status(
    *,
    session: Session,
    workload_id: str,
    status: WorkloadStatus,
    expected_version: int | None = None,
) -> Workload:
    """Replace a workload's status (controllers). ``generation`` stays the store's to count."""
    row = objects.find(session, WorkloadRow, KIND, workload_id, None)
    objects.check_version(KIND, row, expected_version)
    generation = WorkloadStatus.model_validate(row.status).generation
    row.status = status.model_copy(update={"generation": generation}).model_dump(mode="json")
    stamp(session, KIND, row, "updated")
    return to_workload(row)


def delete_workload(
    *,
    session: Session,
    ref: str,
    tenant: str | None = DEFAULT_TENANT,
    expected_version: int | None = None,
) -> Workload:
    """Delete a workload and its instances (each instance deletion is in the change feed)."""
    row = objects.find(session, WorkloadRow, KIND, ref, tenant)
    objects.check_version(KIND, row, expected_version)
    workload = to_workload(row)
    instances = session.scalars(select(InstanceRow).where(InstanceRow.workload_id == row.id))
    for inst in instances.all():
        stamp(session, "Instance", inst, "deleted")
    stamp(session, KIND, row, "deleted")
    return workload
