"""``/api/v1/analytics``: performance, costs, predictions and reports over recorded data.

Thin routes over ``edgeorch.analytics``; ``docs/analytics.md`` defines every number.
"""

import json
from datetime import timedelta

from fastapi import APIRouter, Depends, Query, Request, Response

from edgeorch.analytics import reports
from edgeorch.analytics.costs import CostReport, costs
from edgeorch.analytics.performance import PerformanceReport, performance
from edgeorch.analytics.predictions import (
    MIN_POINTS,
    RESOURCES,
    InsufficientHistory,
    PredictionReport,
    predictions,
)
from edgeorch.analytics.window import InvalidWindow, parse_window
from edgeorch.api.auth import Principal, get_database, require_read, tenant_for_read
from edgeorch.api.params import tenant_query
from edgeorch.api.problems import ApiProblem
from edgeorch.api.responses import json_model
from edgeorch.store import Database, read_workload

router = APIRouter(prefix="/analytics", tags=["analytics"])


def _window(text: str, field: str = "window") -> timedelta:
    try:
        return parse_window(text)
    except InvalidWindow as exc:
        raise ApiProblem(
            422,
            "Invalid request",
            str(exc),
            errors=[
                {"field": field, "value": text, "message": str(exc), "accepted": "90s, 15m, 1h, 7d"}
            ],
        ) from exc


@router.get("/performance", response_model=PerformanceReport)
def get_performance(
    request: Request,
    window: str = Query("1h", description="how far back: 90s, 15m, 1h, 7d (at most 31d)"),
    workload: str | None = Query(None, description="one workload (name, id or id prefix)"),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """Response-time percentiles (p50/p90/p95/p99), request and error counts per workload, per
    workload and region, and per region, from the agents' histograms."""
    span = _window(window)
    scope = tenant_for_read(principal, tenant)
    with database.session() as session:
        workload_id = None
        if workload is not None:
            workload_id = read_workload(session=session, ref=workload, tenant=scope).metadata.id
        report = performance(
            session=session,
            now=request.app.state.clock(),
            window=span,
            tenant=scope,
            workload_id=workload_id,
        )
    return json_model(report)


@router.get("/costs", response_model=CostReport)
def get_costs(
    request: Request,
    window: str = Query("1h", description="how far back: 90s, 15m, 1h, 7d (at most 31d)"),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """Cost per instance (node price x its dominant share of the node x hours bound in the
    window), summed per workload, tenant and region; USD per hour now and USD over the window."""
    span = _window(window)
    with database.session() as session:
        report = costs(
            session=session,
            now=request.app.state.clock(),
            window=span,
            tenant=tenant_for_read(principal, tenant),
        )
    return json_model(report)


@router.get("/predictions", response_model=PredictionReport)
def get_predictions(
    request: Request,
    history: str = Query("24h", description="how much recorded history to fit on"),
    horizon: int = Query(60, ge=1, le=10_000, description="forecast steps (one per interval)"),
    resource: str = Query("cpu", description="cpu or memory"),
    region: str | None = Query(None, description="one region"),
    threshold: float = Query(0.85, gt=0, le=1, description="use level to estimate a time for"),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """Per region, the capacity use forecast ``horizon`` intervals ahead with Holt's linear
    trend, and the forecast's error (MAE, RMSE, MAPE) on held-back history next to a naive
    last-value forecast's. Regions with too little history are a 422 naming them."""
    if resource not in RESOURCES:
        raise ApiProblem(
            422,
            "Invalid request",
            f"resource {resource!r} is not forecast; use one of: {', '.join(RESOURCES)}",
            errors=[
                {
                    "field": "resource",
                    "value": resource,
                    "message": "unknown resource",
                    "accepted": list(RESOURCES),
                }
            ],
        )
    span = _window(history, "history")
    with database.session() as session:
        try:
            report = predictions(
                session=session,
                now=request.app.state.clock(),
                history=span,
                horizon=horizon,
                resource=resource,
                region=region,
                threshold=threshold,
            )
        except InsufficientHistory as exc:
            raise ApiProblem(
                422,
                "Not enough history",
                str(exc),
                kind="insufficient-history",
                errors=[
                    {
                        "field": f"region.{name}",
                        "value": found,
                        "message": f"{found} recorded intervals",
                        "accepted": f">= {MIN_POINTS}",
                    }
                    for name, found in sorted(exc.missing.items())
                ],
            ) from exc
    return json_model(report)


@router.post("/reports")
def post_report(
    body: reports.ReportRequest,
    request: Request,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """A report of the chosen ``sections`` over ``window``, as ``format`` json (application/json),
    csv (text/csv) or html (text/html, self-contained)."""
    span = _window(body.window)
    with database.session() as session:
        document = reports.build(
            session=session,
            now=request.app.state.clock(),
            window=span,
            tenant=tenant_for_read(principal, tenant),
            request=body,
        )
    media = reports.MEDIA_TYPES[body.format]
    stamp = document["generated_at"][:19].replace(":", "")
    headers = {"Content-Disposition": f'inline; filename="edgeorch-report-{stamp}.{body.format}"'}
    if body.format == "csv":
        return Response(reports.to_csv(document), media_type=media, headers=headers)
    if body.format == "html":
        return Response(reports.to_html(document), media_type=media, headers=headers)
    return Response(json.dumps(document), media_type=media, headers=headers)
