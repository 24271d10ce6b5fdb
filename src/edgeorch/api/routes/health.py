"""Liveness and readiness probes; the only endpoints without authentication."""

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from edgeorch import __version__
from edgeorch.api.auth import get_database
from edgeorch.store import Database

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz", response_model=None)
def readyz(database: Database = Depends(get_database)) -> JSONResponse | dict[str, str]:
    """The process can serve requests: its database answers."""
    if not database.ping():
        return JSONResponse(
            {"status": "unavailable", "detail": "the database does not answer"}, status_code=503
        )
    return {"status": "ready", "version": __version__}
