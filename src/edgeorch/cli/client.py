"""The CLI's HTTP client: finds the server and token, and turns problems into readable errors.

Resolution order for the server URL and the token: command-line flags, then ``EDGEORCH_SERVER``
and ``EDGEORCH_TOKEN``, then the current (or ``--context``) context of the client config file
that ``edgeorch up`` / ``edgeorch server`` write.
"""

import os
from dataclasses import dataclass
from typing import Any

import httpx

from edgeorch.clientconfig import config_path, read_context

DEFAULT_SERVER = "http://127.0.0.1:8080"


class ClientError(Exception):
    """A request the server refused or could not be made; ``errors`` holds per-field entries."""

    def __init__(
        self, message: str, *, status: int | None = None, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


@dataclass(frozen=True)
class Target:
    """Where to send requests and with which token."""

    server: str
    token: str | None


def resolve_target(server: str | None, token: str | None, context: str | None) -> Target:
    """Apply the resolution order described in the module docstring."""
    ctx = read_context(context)
    if context and ctx is None:
        raise ClientError(f"no context named {context!r} in {config_path()}")
    url = server or os.environ.get("EDGEORCH_SERVER") or (ctx.server if ctx else None)
    secret = token or os.environ.get("EDGEORCH_TOKEN") or (ctx.token if ctx else None)
    return Target(server=(url or DEFAULT_SERVER).rstrip("/"), token=secret)


class ApiClient:
    """Thin wrapper over httpx that raises ClientError with the server's problem detail."""

    def __init__(
        self, target: Target, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self.target = target
        self._http = httpx.Client(
            base_url=target.server, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to ``/api/v1{path}`` and return the decoded JSON body."""
        try:
            response = self._http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(
                f"cannot reach the edgeorch server at {self.target.server} ({exc}); start one "
                "with 'edgeorch up', or point to it with --server or EDGEORCH_SERVER"
            ) from exc
        if response.status_code >= 400:
            raise _problem(response, has_token=self.target.token is not None)
        if not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def list_all(self, path: str, *, limit: int | None = None, **params: Any) -> dict[str, Any]:
        """Follow ``continue`` cursors and return one list object with every item."""
        items: list[Any] = []
        page: dict[str, Any] = {}
        cursor: str | None = None
        while True:
            size = min(1000, limit - len(items)) if limit else 500
            page = self.get(path, limit=size, **params, **{"continue": cursor})
            items.extend(page["items"])
            cursor = page["metadata"].get("continue")
            if not cursor or (limit is not None and len(items) >= limit):
                break
        page["items"] = items
        page["metadata"]["continue"] = cursor
        return page


def _problem(response: httpx.Response, *, has_token: bool) -> ClientError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    message = str(detail or f"{response.status_code} {response.reason_phrase}")
    if response.status_code == 401:
        hint = (
            "set a valid token with --token or EDGEORCH_TOKEN"
            if has_token
            else "no token was found: pass --token, set EDGEORCH_TOKEN, or run 'edgeorch up' "
            "which writes one to the client config"
        )
        message = f"{message}; {hint}"
    errors = body.get("errors", []) if isinstance(body, dict) else []
    return ClientError(message, status=response.status_code, errors=errors)
