"""The agent's HTTP client for the control plane; every connection is made by the agent.

Errors::

    ControlPlaneError
    ├── Unreachable     no answer (connection refused, timeout) or a 5xx: try again later
    └── Refused         a 4xx: the request itself or its credential was refused
"""

from typing import Any, Protocol

import httpx

from edgeorch.agent.protocol import (
    AssignmentSet,
    Heartbeat,
    HeartbeatAck,
    JoinRequest,
    JoinResponse,
)
from edgeorch.agent.tls import tls_context

API = "/api/v1"
# Idle connections are kept this long: longer than the heartbeat interval, so a beat reuses the
# previous beat's connection, shorter than the server's HTTP_IDLE_SECONDS (config.py).
KEEPALIVE_SECONDS = 60.0


class ControlPlaneError(Exception):
    """A call to the control plane did not succeed."""


class Unreachable(ControlPlaneError):
    """The control plane did not answer, or answered with a server error."""


class Refused(ControlPlaneError):
    """The control plane refused the request (4xx); ``status`` and the problem's detail."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 500:
        raise Unreachable(f"the control plane answered {response.status_code}")
    if response.status_code >= 400:
        try:
            detail = str(response.json().get("detail", response.text))
        except ValueError:
            detail = response.text
        raise Refused(response.status_code, detail)
    return response


class Requests(Protocol):
    """What :class:`ControlPlane` needs of its HTTP client: ``httpx.AsyncClient`` has it, and
    so has the fleet simulator's ``SimClient`` (``sim/transport.py``)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any = ...,
        params: dict[str, Any] | None = ...,
        timeout: float | None = ...,
    ) -> httpx.Response: ...

    async def aclose(self) -> None: ...


class ControlPlane:
    """Async calls for join, heartbeat and watch; a sync call for artifact fetches (made from
    the supervisor's worker thread)."""

    def __init__(
        self,
        server: str,
        *,
        request_timeout: float = 10.0,
        client: Requests | None = None,
    ) -> None:
        """``client``, when given, is a connection pool shared by many agents in one process
        (the fleet simulator); it must have ``base_url`` ``<server>/api/v1`` and its owner
        closes it, not :meth:`aclose`."""
        self.server = server.rstrip("/")
        self._timeout = request_timeout
        self._owns_client = client is None
        self._client: Requests = client or httpx.AsyncClient(
            base_url=self.server + API,
            timeout=request_timeout,
            verify=tls_context(),
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
        )

    async def aclose(self) -> None:
        """Close the connection pool, unless it is a shared one."""
        if self._owns_client:
            await self._client.aclose()

    async def _call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"}
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(f"{self.server} is unreachable: {exc!r}") from exc
        return _check(response)

    async def join(self, join_token: str, request: JoinRequest) -> JoinResponse:
        """Join as a node; answers the node id and the node credential."""
        body = request.model_dump(mode="json")
        response = await self._call("POST", "/agent/join", join_token, json=body)
        return JoinResponse.model_validate(response.json())

    async def heartbeat(self, node_id: str, credential: str, beat: Heartbeat) -> HeartbeatAck:
        """Report utilization and instance states."""
        body = beat.model_dump(mode="json")
        path = f"/agent/nodes/{node_id}/heartbeat"
        response = await self._call("POST", path, credential, json=body)
        return HeartbeatAck.model_validate(response.json())

    async def assignments(
        self, node_id: str, credential: str, *, since: int, digest: str, timeout: float
    ) -> AssignmentSet:
        """Long-poll the node's assignments: answers when they differ from ``digest`` or after
        ``timeout`` seconds (then ``changed`` is false)."""
        params: dict[str, Any] = {"since": since, "timeout": timeout}
        if digest:
            params["digest"] = digest
        response = await self._call(
            "GET",
            f"/agent/nodes/{node_id}/assignments",
            credential,
            params=params,
            timeout=timeout + self._timeout,
        )
        return AssignmentSet.model_validate(response.json())

    def fetch_artifact(self, credential: str, digest: str) -> bytes:
        """The artifact's bytes (unverified: the caller checks them against ``digest``)."""
        url = f"{self.server}{API}/artifacts/{digest}"
        headers = {"authorization": f"Bearer {credential}"}
        try:
            response = httpx.get(
                url, headers=headers, timeout=max(self._timeout, 60.0), verify=tls_context()
            )
        except httpx.TransportError as exc:
            raise Unreachable(f"{self.server} is unreachable: {exc!r}") from exc
        return _check(response).content
