"""``/api/v1/placement``: analyse, recommend, plan and optimise placements.

All of them run the real placement engine over the live fleet snapshot; none writes, except
``optimize`` with ``apply: true``, which turns the moves into migrations (docs/migrations.md).
"""

import uuid
from typing import Any, Self

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, model_validator

from edgeorch.api.auth import (
    Principal,
    get_database,
    require_read,
    require_write,
    tenant_for_read,
)
from edgeorch.api.problems import ApiProblem
from edgeorch.controllers.migrations import (
    LIVE_RUNTIMES,
    MigrationRefused,
    begin_migration,
    migration_default_downtime,
)
from edgeorch.domain.enums import EdgeType, Runtime
from edgeorch.domain.resources import Resources
from edgeorch.placement import ObjectiveWeights, PlacementRequest, analyze, optimize, place_batch
from edgeorch.placement.live import FleetView, LiveFleet
from edgeorch.schemas.common import StrictModel
from edgeorch.schemas.manifest import ManifestError, parse_documents, validate_documents
from edgeorch.schemas.migration import MigrationType
from edgeorch.schemas.workload import (
    Artifact,
    PlacementSpec,
    PlacementWeights,
    UserPoint,
    WorkloadCreate,
    WorkloadSpec,
)
from edgeorch.store import Conflict, Database, NotFound, read_workload

router = APIRouter(prefix="/placement", tags=["placement"])

MAX_TIME_LIMIT_S = 60.0


class AnalyzeRequest(StrictModel):
    """A proposed workload (``spec``) or an existing one (``workload``, id or name)."""

    spec: WorkloadSpec | None = None
    workload: str | None = None
    replicas: int | None = Field(default=None, ge=1, le=10_000)
    weights: PlacementWeights | None = None
    top_k: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.spec is None) == (self.workload is None):
            raise ValueError("give exactly one of 'spec' (a proposed workload) or 'workload'")
        return self


class OptimizeRequest(StrictModel):
    """Re-plan every current instance; ``apply`` re-binds the moved ones."""

    time_limit_s: float = Field(default=10.0, gt=0, le=MAX_TIME_LIMIT_S)
    max_moves: int | None = Field(default=None, ge=0)
    move_cost: float = Field(default=0.01, ge=0)
    exact: bool = True
    apply: bool = False


def live_fleet(request: Request) -> LiveFleet:
    """The app's live fleet view."""
    fleet: LiveFleet = request.app.state.fleet
    return fleet


def _decision_body(view: FleetView, decision: Any) -> dict[str, Any]:
    body: dict[str, Any] = decision.to_dict()
    body["placeable"] = decision.ok
    body["revision"] = view.revision
    for item in body.get("assignments", []) + body.get("candidates", []):
        item["node_name"] = view.node_names.get(item["node_id"], item["node_id"])
    return body


@router.post("/analyze")
def post_analyze(
    body: AnalyzeRequest,
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
    fleet: LiveFleet = Depends(live_fleet),
) -> dict[str, Any]:
    """Ranked candidates with each score term and estimated latency, filter counts, decision
    time, and for an unplaceable request the blocking constraints and hints."""
    workload_id = ""
    spec = body.spec
    if body.workload is not None:
        with database.session() as session:
            workload = read_workload(
                session=session, ref=body.workload, tenant=tenant_for_read(principal, None)
            )
        workload_id, spec = workload.metadata.id, workload.spec
    assert spec is not None
    view = fleet.view()
    decision = analyze(
        view.snapshot,
        spec,
        workload_id=workload_id,
        replicas=body.replicas or (None if workload_id else spec.desired_max() or 1),
        weights=body.weights,
        top_k=body.top_k,
        request_id=uuid.uuid4().hex,
    )
    return _decision_body(view, decision)


@router.get("/recommendations")
def get_recommendations(
    workload: str | None = Query(None, description="an existing workload (id or name)"),
    k: int = Query(5, ge=1, le=100, description="how many nodes"),
    cpu: float = Query(0.1, ge=0, description="proposed: vCPU per replica"),
    memory_mb: int = Query(64, ge=0, description="proposed: MB per replica"),
    latitude: float | None = Query(None, ge=-90, le=90, description="proposed: users' latitude"),
    longitude: float | None = Query(None, ge=-180, le=180, description="users' longitude"),
    max_latency_ms: float | None = Query(None, gt=0, description="proposed: latency SLA"),
    edge_type: list[EdgeType] | None = Query(None, description="proposed: allowed edge types"),
    country: list[str] | None = Query(None, description="proposed: allowed countries"),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
    fleet: LiveFleet = Depends(live_fleet),
) -> dict[str, Any]:
    """The top ``k`` nodes for one more replica of an existing workload, or of a proposed one
    described by the query parameters."""
    if workload is not None:
        request = AnalyzeRequest(workload=workload, replicas=1, top_k=k)
        return post_analyze(request, principal, database, fleet)
    if (latitude is None) != (longitude is None):
        raise ApiProblem(422, "Invalid request", "give both latitude and longitude, or neither")
    users = [UserPoint(latitude=latitude, longitude=longitude)] if latitude is not None else []
    placement: dict[str, Any] = {
        "users": users,
        "max_latency_ms": max_latency_ms,
        "edge_types": edge_type,
    }
    if country:
        placement["residency"] = {"countries": country}
    spec = WorkloadSpec(
        runtime=Runtime.PROCESS,
        # The artifact does not influence placement; a proposed workload has none yet.
        artifact=Artifact(command=["(proposed)"]),
        replicas=1,
        resources=Resources(cpu=cpu, memory_mb=memory_mb),
        placement=PlacementSpec.model_validate(placement),
    )
    return post_analyze(AnalyzeRequest(spec=spec, top_k=k), principal, database, fleet)


_MANIFEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/yaml": {"schema": {"type": "string"}}},
    }
}


@router.post("/plan", openapi_extra=_MANIFEST_BODY)
async def post_plan(
    request: Request,
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
    fleet: LiveFleet = Depends(live_fleet),
) -> dict[str, Any]:
    """A dry run of ``apply``: where every replica of every workload in the manifest would
    land, placed together in one batch so they compete for capacity as they would."""
    try:
        docs = validate_documents(
            parse_documents(
                (await request.body()).decode("utf-8", errors="replace"),
                content_type=request.headers.get("content-type", ""),
            )
        )
    except ManifestError as exc:
        raise ApiProblem(422, "Invalid manifest", str(exc), errors=exc.errors) from exc
    view = fleet.view()
    scope = tenant_for_read(principal, None)
    requests, names, ignored = [], [], []
    with database.session() as session:
        for doc in docs:
            if not isinstance(doc.obj, WorkloadCreate):
                ignored.append(f"{doc.kind.lower()} document {doc.index + 1}")
                continue
            name = doc.obj.metadata.name
            existing = _existing_id(session, name, doc.obj.metadata.tenant or scope)
            requests.append(
                PlacementRequest(
                    doc.obj.spec, existing or f"plan:{name}", None, None, f"plan:{name}"
                )
            )
            names.append(name)
    batch = place_batch(view.snapshot, requests, top_k=3, dry_run=True)
    items = []
    for name, decision in zip(names, batch.decisions, strict=True):
        items.append({"workload": name, **_decision_body(view, decision)})
    return {
        "revision": view.revision,
        "placeable": all(d.ok for d in batch.decisions),
        "items": items,
        "ignored": ignored,
        "elapsed_ms": batch.elapsed_ms,
    }


def _existing_id(session: Any, name: str, tenant: str | None) -> str | None:
    try:
        return read_workload(session=session, ref=name, tenant=tenant).metadata.id
    except NotFound:
        return None


@router.post("/optimize")
def post_optimize(
    body: OptimizeRequest,
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
    fleet: LiveFleet = Depends(live_fleet),
) -> dict[str, Any]:
    """Re-plan all current instances for the objective; returns the moves, the objective before
    and after and the proven optimality gap. Moves are applied only when ``apply`` is true."""
    if not principal.fleet_admin:
        raise ApiProblem(403, "Forbidden", "fleet-wide optimisation needs a fleet admin token")
    view = fleet.view()
    result = optimize(
        view.snapshot,
        list(view.instances.values()),
        {wid: w.spec for wid, w in view.workloads.items()},
        time_limit_s=body.time_limit_s,
        max_moves=body.max_moves,
        weights=ObjectiveWeights(move=body.move_cost),
        exact=body.exact,
    )
    out = result.to_dict()
    out["revision"] = view.revision
    out["applied"] = False
    if body.apply and result.moves:
        out |= _apply_moves(database, view, result.moves)
        out["applied"] = bool(out["migrations"])
    return out


def _apply_moves(database: Database, view: FleetView, moves: Any) -> dict[str, Any]:
    """Each move becomes a migration (live for wasm, cold otherwise), in the optimiser's order
    (moves off nodes that no longer fit first); the migration controller carries them out."""
    started, refused = [], []
    ordered = sorted(moves, key=lambda m: not m.forced)
    for move in ordered:
        instance = view.instances[move.instance_id]
        if instance.spec.node_id != move.source or move.target is None:
            refused.append({"instance": instance.metadata.name, "reason": "moved since the plan"})
            continue
        workload = view.workloads[instance.spec.workload_id]
        kind = MigrationType.LIVE if workload.spec.runtime in LIVE_RUNTIMES else MigrationType.COLD
        why = "optimiser: its node no longer fits it" if move.forced else "optimiser: rebalance"
        try:
            with database.write() as session:
                migration = begin_migration(
                    session=session,
                    view=view,
                    instance=instance,
                    target_node=move.target,
                    kind=kind,
                    max_downtime_ms=migration_default_downtime(),
                    reason=why,
                )
        except (MigrationRefused, Conflict) as exc:
            refused.append({"instance": instance.metadata.name, "reason": str(exc)})
            continue
        started.append(migration.metadata.id)
    return {"migrations": started, "refused": refused}
