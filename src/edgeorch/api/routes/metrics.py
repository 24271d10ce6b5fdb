"""``GET /metrics``: the control plane's Prometheus metrics (outside ``/api/v1``, where
Prometheus looks by default).

The metrics describe the whole fleet (node names, regions, every tenant's instance counts), so
they need a bearer token that may read the whole fleet: a reader, operator or admin token of
the ``default`` tenant. Give Prometheus a reader token (``edgeorch token create --role reader
--name prometheus``) through ``authorization: credentials_file:`` (deploy/prometheus/).
"""

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from edgeorch.api.auth import Principal, require_read
from edgeorch.api.problems import ApiProblem
from edgeorch.observability.collector import ServerMetrics
from edgeorch.schemas.tenant import DEFAULT_TENANT

router = APIRouter(tags=["metrics"])


def require_fleet_read(principal: Principal = Depends(require_read)) -> Principal:
    """A read token of the default tenant: the metrics span every tenant."""
    if principal.tenant != DEFAULT_TENANT:
        raise ApiProblem(
            403,
            "Forbidden",
            f"this token belongs to tenant {principal.tenant!r}; /metrics describes the whole "
            f"fleet and needs a reader, operator or admin token of tenant {DEFAULT_TENANT!r}",
        )
    return principal


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def get_metrics(
    request: Request, principal: Principal = Depends(require_fleet_read)
) -> Response:
    """Every metric of this server in the Prometheus text format (OpenMetrics when the
    ``Accept`` header asks for it)."""
    metrics: ServerMetrics = request.app.state.server_metrics
    body, content_type = await run_in_threadpool(metrics.render, request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
