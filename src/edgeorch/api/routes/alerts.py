"""``/api/v1/alerts``: alerts the rule engine raised (``alerts/rules.py``), newest first."""

from fastapi import APIRouter, Depends, Query, Response

from edgeorch.alerts.model import SEVERITIES, STATES, Alert, to_alert
from edgeorch.api.auth import Principal, get_database, require_read, tenant_for_read
from edgeorch.api.params import PageParams, page_params, tenant_query
from edgeorch.api.problems import ApiProblem
from edgeorch.api.responses import page_json
from edgeorch.schemas.envelope import ObjectList
from edgeorch.store import Database
from edgeorch.store.sql.alerts import list_alerts

router = APIRouter(prefix="/alerts", tags=["alerts"])


def _choice(field: str, value: str | None, accepted: tuple[str, ...]) -> str | None:
    if value is None or value in accepted:
        return value
    raise ApiProblem(
        422,
        "Invalid request",
        f"{field} {value!r} is not one of: {', '.join(accepted)}",
        errors=[
            {"field": field, "value": value, "message": "unknown value", "accepted": list(accepted)}
        ],
    )


@router.get("", response_model=ObjectList[Alert])
def get_alerts(
    state: str | None = Query(None, description="firing or resolved"),
    severity: str | None = Query(None, description="warning or critical"),
    page: PageParams = Depends(page_params),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """List alerts, newest first, by state and severity."""
    with database.session() as session:
        result = list_alerts(
            session=session,
            tenant=tenant_for_read(principal, tenant),
            state=_choice("state", state, STATES),
            severity=_choice("severity", severity, SEVERITIES),
            limit=page.limit,
            continue_token=page.continue_token,
        )
    return page_json("AlertList", result, [to_alert(a) for a in result.items])
