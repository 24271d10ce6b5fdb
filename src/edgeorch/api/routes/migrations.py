"""``/api/v1/migrations``: move an instance to another node; and the agents' migration calls.

``POST /migrations`` (admin, operator) validates and records a pending migration; the migration
controller (``controllers/migrations.py``) runs it. ``GET /migrations`` lists them (filter by
``state``, ``instance``), ``GET /migrations/{id}`` shows one with its phase, progress, per-phase
times and measured downtime.

The agent side (node credentials of the two nodes involved only):
``GET /agent/nodes/{node}/migrations/{id}`` answers the node's :class:`MigrationDirective` (with
the hand-off secret), ``POST /agent/nodes/{node}/migrations/{id}/report`` moves the hand-off
forward (``transfer``, ``switched``, ``failed``).
"""

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from edgeorch.agent.protocol import MigrationDirective
from edgeorch.api.auth import (
    Principal,
    get_database,
    require_read,
    require_write,
    tenant_for_read,
    tenant_for_write,
)
from edgeorch.api.params import PageParams, page_params, tenant_query
from edgeorch.api.problems import ApiProblem
from edgeorch.api.responses import json_model, page_json
from edgeorch.api.routes.agent import require_node
from edgeorch.controllers.migrations import MigrationRefused, apply_report, begin_migration
from edgeorch.placement.live import LiveFleet
from edgeorch.schemas.envelope import ObjectList
from edgeorch.schemas.migration import (
    AUTO,
    Migration,
    MigrationPhase,
    MigrationReport,
    MigrationRequest,
    MigrationState,
    MigrationType,
)
from edgeorch.store import Database, NotFound, read_instance, read_node
from edgeorch.store.sql.migration_records import (
    list_migrations,
    migrations_targeting,
    read_migration,
    read_migration_secret,
)

router = APIRouter(prefix="/migrations", tags=["migrations"])
agent_router = APIRouter(prefix="/agent", tags=["agent"])

# A directive is handed out only while the hand-off is still to be done.
_HANDOFF_PHASES = (MigrationPhase.SNAPSHOT, MigrationPhase.TRANSFER)


@router.post("", status_code=201, response_model=Migration)
def post_migration(
    body: MigrationRequest,
    request: Request,
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Response:
    """Start moving an instance: to ``target_node``, or where the placement engine says when it
    is omitted or ``auto`` (never the source)."""
    fleet: LiveFleet = request.app.state.fleet
    view = fleet.view()
    tenant = tenant_for_write(principal, None)
    with database.write() as session:
        instance = read_instance(session=session, ref=body.instance, tenant=tenant)
        target = None
        if body.target_node not in (None, AUTO):
            assert body.target_node is not None
            target = read_node(session=session, ref=body.target_node, tenant=None).metadata.id
        try:
            migration = begin_migration(
                session=session,
                view=view,
                instance=instance,
                target_node=target,
                kind=body.type,
                max_downtime_ms=body.max_downtime_ms(),
                reason=body.reason,
            )
        except MigrationRefused as exc:
            raise ApiProblem(422, "Migration refused", str(exc)) from exc
    return json_model(migration, status_code=201)


@router.get("", response_model=ObjectList[Migration])
def get_migrations(
    state: MigrationState | None = Query(None, description="only migrations in this state"),
    instance: str | None = Query(None, description="only migrations of this instance (id)"),
    page: PageParams = Depends(page_params),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """List migrations, by state and instance."""
    scope = tenant_for_read(principal, tenant)
    with database.session() as session:
        result = list_migrations(
            session=session,
            tenant=scope,
            state=state,
            instance_id=instance,
            limit=page.limit,
            continue_token=page.continue_token,
        )
    return page_json("MigrationList", result)


@router.get("/{migration_id}", response_model=Migration)
def get_migration(
    migration_id: str,
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """One migration: phase, progress, per-phase times, measured downtime, error."""
    with database.session() as session:
        migration = read_migration(
            session=session, ref=migration_id, tenant=tenant_for_read(principal, None)
        )
    return json_model(migration)


# -- the agents' side -------------------------------------------------------------------------


def directive(session: Session, migration: Migration, role: str, secret: str) -> MigrationDirective:
    """What an agent needs to play ``role`` in ``migration``."""
    spec = migration.spec
    ingress = None
    try:
        source = read_node(session=session, ref=spec.source_node_id, tenant=None)
        ingress = source.status.agent.get("ingress") or None
    except NotFound:
        pass
    return MigrationDirective(
        id=migration.metadata.id,
        role="source" if role == "source" else "target",
        type=spec.type.value,
        secret=secret,
        source_instance_id=spec.instance_id,
        target_instance_id=migration.status.target_instance_id,
        workload_name=spec.workload_name,
        source_ingress=ingress,
        max_downtime_ms=spec.max_downtime_ms,
        phase=migration.status.phase.value,
    )


def target_directives(database: Database, instance_ids: list[str]) -> dict[str, MigrationDirective]:
    """Directives for the target instances among ``instance_ids`` whose state is still to come
    (live and snapshot migrations before their switchover); keyed by target instance id."""
    out: dict[str, MigrationDirective] = {}
    with database.session() as session:
        for migration, secret in migrations_targeting(session=session, instance_ids=instance_ids):
            target = migration.status.target_instance_id
            if (
                target is None
                or migration.spec.type is MigrationType.COLD
                or migration.status.phase not in _HANDOFF_PHASES
            ):
                continue
            out[target] = directive(session, migration, "target", secret)
    return out


def _involved(session: Session, node_id: str, migration_id: str) -> tuple[Migration, str]:
    try:
        migration = read_migration(session=session, ref=migration_id, tenant=None)
    except NotFound as exc:
        raise ApiProblem(404, "Not found", f"no migration {migration_id!r}") from exc
    if node_id == migration.spec.source_node_id:
        return migration, "source"
    if node_id == migration.spec.target_node_id:
        return migration, "target"
    raise ApiProblem(
        403, "Forbidden", f"node {node_id} is neither the source nor the target of {migration_id}"
    )


@agent_router.get("/nodes/{node_id}/migrations/{migration_id}", response_model=MigrationDirective)
def get_directive(
    node_id: str,
    migration_id: str,
    principal: Principal = Depends(require_node),
    database: Database = Depends(get_database),
) -> MigrationDirective:
    """This node's part in the migration, with the hand-off secret."""
    with database.session() as session:
        migration, role = _involved(session, node_id, migration_id)
        secret = read_migration_secret(session=session, migration_id=migration.metadata.id)
        return directive(session, migration, role, secret)


@agent_router.post("/nodes/{node_id}/migrations/{migration_id}/report", response_model=Migration)
def post_report(
    node_id: str,
    migration_id: str,
    body: MigrationReport,
    request: Request,
    principal: Principal = Depends(require_node),
    database: Database = Depends(get_database),
) -> Response:
    """Move the hand-off forward; a repeated or late report changes nothing."""
    now = request.app.state.clock()
    with database.write() as session:
        migration, _ = _involved(session, node_id, migration_id)
        updated = apply_report(session=session, migration=migration, report=body, now=now)
    return json_model(updated)
