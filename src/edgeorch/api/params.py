"""Query parameters shared by list endpoints: pagination, tenant and label selectors.

The dependencies are ``async def`` although they never await: FastAPI runs a plain ``def``
dependency in the thread pool, which for these few lines costs more than the work itself.
"""

from dataclasses import dataclass

from fastapi import Query

from edgeorch.api.problems import ApiProblem
from edgeorch.store import LabelSelector, parse_label_selector

MAX_PAGE = 1000


@dataclass(frozen=True)
class PageParams:
    """``limit`` and ``continue`` of a list request."""

    limit: int
    continue_token: str | None


async def page_params(
    limit: int = Query(100, ge=1, le=MAX_PAGE, description="items per page (1-1000)"),
    continue_: str | None = Query(
        None, alias="continue", description="the cursor from the previous page's metadata"
    ),
) -> PageParams:
    """Pagination parameters, validated."""
    return PageParams(limit=limit, continue_token=continue_)


async def label_selector(
    label_selector: str | None = Query(
        None,
        description="Kubernetes equality selector: k=v, k!=v, k, !k, comma-separated",
        examples=["site=factory,tier!=canary"],
    ),
) -> LabelSelector | None:
    """Parse ``?label_selector=``; a malformed one is a 400 naming the bad term."""
    if not label_selector:
        return None
    try:
        return parse_label_selector(label_selector)
    except ValueError as exc:
        raise ApiProblem(400, "Invalid label selector", str(exc)) from exc


async def tenant_query(
    tenant: str | None = Query(None, description="limit to one tenant (fleet admins: any)"),
) -> str | None:
    """The ``?tenant=`` parameter."""
    return tenant
