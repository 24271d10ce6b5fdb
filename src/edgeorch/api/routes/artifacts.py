"""``/api/v1/artifacts``: upload and fetch content-addressed artifacts (wasm modules, ...).

``POST /artifacts`` (admin, operator) takes the raw bytes as the body, at most
:func:`max_artifact_bytes` (64 MiB unless ``EDGEORCH_MAX_ARTIFACT_BYTES`` says otherwise), stores
them under ``<data dir>/artifacts`` and answers their ``sha256:<hex>`` digest; uploading the same
bytes twice is harmless. ``GET /artifacts/{digest}`` (admin, operator, node) answers the bytes.
"""

import os
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import FileResponse

from edgeorch.api.auth import Principal, authenticate, require_write
from edgeorch.api.problems import ApiProblem
from edgeorch.artifacts import BlobStore, BlobTooLarge, InvalidDigest
from edgeorch.domain.enums import TokenRole

router = APIRouter(prefix="/artifacts", tags=["artifacts"])

DEFAULT_MAX_ARTIFACT_BYTES = 64 << 20
_FETCH_ROLES = frozenset({TokenRole.ADMIN, TokenRole.OPERATOR, TokenRole.NODE})


def max_artifact_bytes() -> int:
    """The upload limit: ``EDGEORCH_MAX_ARTIFACT_BYTES`` or 64 MiB."""
    text = os.environ.get("EDGEORCH_MAX_ARTIFACT_BYTES", "")
    if not text:
        return DEFAULT_MAX_ARTIFACT_BYTES
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"EDGEORCH_MAX_ARTIFACT_BYTES={text!r} is not a positive number of bytes")
    return int(text)


def blob_store(request: Request) -> BlobStore:
    """The app's artifact store under the server's data directory, created on first use."""
    store: BlobStore | None = getattr(request.app.state, "artifacts", None)
    if store is None:
        root = request.app.state.settings.data_dir / "artifacts"
        store = BlobStore(root, limit=max_artifact_bytes())
        request.app.state.artifacts = store
    return store


def require_fetch(principal: Principal = Depends(authenticate)) -> Principal:
    """Operators, admins and agents (node credentials) may fetch artifacts."""
    if principal.role not in _FETCH_ROLES:
        accepted = ", ".join(sorted(r.value for r in _FETCH_ROLES))
        raise ApiProblem(
            403,
            "Forbidden",
            f"a {principal.role.value} token may not fetch artifacts; this needs one of: "
            f"{accepted}",
        )
    return principal


@router.post("", status_code=status.HTTP_201_CREATED)
async def post_artifact(
    request: Request,
    response: Response,
    principal: Principal = Depends(require_write),
) -> dict[str, Any]:
    """Store the raw request body; answers its digest and size."""
    store = blob_store(request)
    try:
        digest, size = await store.put_stream(request.stream())
    except BlobTooLarge as exc:
        raise ApiProblem(413, "Body too large", str(exc)) from exc
    if size == 0:
        raise ApiProblem(
            422, "Invalid request", "the artifact is empty; send its bytes as the request body"
        )
    response.headers["Location"] = f"/api/v1/artifacts/{digest}"
    return {"digest": digest, "size": size}


@router.get("/{digest}", response_class=FileResponse)
def get_artifact(
    digest: str,
    request: Request,
    principal: Principal = Depends(require_fetch),
) -> FileResponse:
    """The artifact's bytes, as ``application/octet-stream``."""
    store = blob_store(request)
    try:
        path = store.path(digest)
    except InvalidDigest as exc:
        raise ApiProblem(400, "Invalid digest", str(exc)) from exc
    if not path.is_file():
        raise ApiProblem(
            404, "Not found", f"no artifact {digest} is stored; upload it with POST /artifacts"
        )
    return FileResponse(path, media_type="application/octet-stream")
