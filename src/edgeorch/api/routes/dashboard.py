"""The dashboard: its page and assets at ``/`` (no authentication: they hold no data), and the
compact fleet read it starts from, ``GET /api/v1/dashboard/fleet`` (bearer token, like all data).

The assets are the built files in ``edgeorch/web`` (``dashboard/`` at the repository root is
their source; ``docs/dashboard.md`` says how to rebuild them). Everything is served from this
server: the page's Content-Security-Policy allows no other origin, so the dashboard works
offline and cannot load anything from the internet by mistake.
"""

import gzip
import hashlib
import json
import mimetypes
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from edgeorch.api.auth import Principal, get_database, require_read, tenant_for_read
from edgeorch.api.fleetview import fleet_columns
from edgeorch.api.params import tenant_query
from edgeorch.api.problems import ApiProblem
from edgeorch.store import Database

pages = APIRouter(tags=["dashboard"], include_in_schema=False)
router = APIRouter(prefix="/dashboard", tags=["dashboard"])

_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(js|css|svg|png|ico|json|txt)$")
_GZIP_MIN_BYTES = 1024
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Asset:
    """One file of the built dashboard, with its gzip form and its ETag."""

    body: bytes
    gzipped: bytes | None
    etag: str
    media_type: str


_cache: dict[tuple[str, float], Asset] = {}


def _load(name: str) -> Asset | None:
    file = resources.files("edgeorch").joinpath("web", name)
    if not file.is_file():
        return None
    # Keyed by modification time too, so a rebuilt dashboard is served without a restart.
    key = (name, os.stat(file).st_mtime if isinstance(file, Path) else 0.0)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    body = file.read_bytes()
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    gzipped = gzip.compress(body, 6) if len(body) >= _GZIP_MIN_BYTES else None
    asset = Asset(body, gzipped, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', media_type)
    _cache[key] = asset
    return asset


def _serve(name: str, request: Request) -> Response:
    asset = _load(name)
    if asset is None:
        raise ApiProblem(
            404,
            "Not found",
            f"the dashboard has no file {name!r}"
            + ("" if name != "index.html" else "; it was not built (see docs/dashboard.md)"),
        )
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", **_SECURITY_HEADERS}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return Response(body, media_type=asset.media_type, headers=headers)


@pages.get("/", response_class=HTMLResponse)
def get_index(request: Request) -> Response:
    """The dashboard page."""
    return _serve("index.html", request)


@pages.get("/assets/{name}")
def get_asset(name: str, request: Request) -> Response:
    """A script, style sheet or image of the dashboard."""
    if not _ASSET_NAME.match(name):
        raise ApiProblem(404, "Not found", f"the dashboard has no file {name!r}")
    return _serve(name, request)


@router.get("/fleet")
def get_fleet(
    request: Request,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """Every node, instance and workload in columns, at one revision (``revision``): what the
    map starts from before following ``/api/v1/stream?since=<revision>``."""
    with database.session() as session:
        body = fleet_columns(session=session, tenant=tenant_for_read(principal, tenant))
    return _json(body, request)


def _json(body: dict[str, Any], request: Request) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Cache-Control": "no-store"}
    if len(data) >= _GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, 5)
        headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return Response(data, media_type="application/json", headers=headers)
