"""Webhook delivery of alert transitions, refusing internal addresses.

A webhook is a request the control plane makes to a URL an operator typed, from inside the
operator's network: pointed at ``169.254.169.254`` or ``localhost:5432`` it would turn the server
into a proxy onto things only it can reach (SSRF). So the URL's host is resolved and **every**
address it resolves to must be a global unicast address: loopback, private (RFC 1918, ULA
``fc00::/7``), link-local (``169.254/16`` with the cloud metadata service, ``fe80::/10``),
shared (``100.64/10``), multicast, unspecified and reserved addresses are refused, unless they
are inside a network the operator listed in ``EDGEORCH_ALERT_WEBHOOK_ALLOW_NETWORKS``.

The check runs at startup (a refused URL stops the server with an error naming the URL and the
address) and again before every delivery, and the request goes to the address that was checked
(the URL's host kept in the ``Host`` header and as the TLS server name), so a DNS answer that
changes between check and connect cannot redirect it (DNS rebinding).

Delivery runs on its own thread behind a bounded queue, so rule evaluation never waits on the
network: each transition is POSTed as JSON, retried up to ``attempts`` times with exponential
backoff (1, 2, 4 s...) on a transport error or a 5xx/429 answer, then dropped with a log line.

    WebhookError (ValueError)
    └── WebhookRefused      the URL or one of its addresses is not allowed
"""

import contextlib
import ipaddress
import logging
import queue
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from edgeorch.alerts.settings import Network

log = logging.getLogger("edgeorch.alerts.webhook")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class WebhookError(ValueError):
    """A webhook problem an operator must fix."""


class WebhookRefused(WebhookError):
    """The webhook URL, or an address its host resolves to, is not allowed."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def forbidden_reason(address: Address) -> str | None:
    """Why ``address`` may not be a webhook target, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata lives there)"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not globally routable"),
    )
    return next((why for bad, why in checks if bad), None)


def check_url(
    url: str, allow: Sequence[Network] = (), resolve: Resolver = system_resolver
) -> tuple[SplitResult, list[Address]]:
    """The parsed URL and its allowed addresses; :class:`WebhookRefused` names the URL and the
    first address that is refused (or why the URL itself is)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"alert webhook URL {url!r} must be an http:// or https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(parts.hostname, port)]
    except OSError as exc:
        raise WebhookRefused(f"alert webhook URL {url!r}: cannot resolve its host: {exc}") from exc
    if not addresses:
        raise WebhookRefused(f"alert webhook URL {url!r}: its host resolves to no address")
    for address in addresses:
        if any(address in network for network in allow):
            continue
        why = forbidden_reason(address)
        if why is not None:
            raise WebhookRefused(
                f"alert webhook URL {url!r} resolves to {address}, a {why} address; webhooks "
                "may only reach public addresses (list trusted networks in "
                "EDGEORCH_ALERT_WEBHOOK_ALLOW_NETWORKS, e.g. 127.0.0.1/32)"
            )
    return parts, addresses


class WebhookSender:
    """Delivers payloads to one checked URL from a background thread."""

    def __init__(
        self,
        url: str,
        allow: Sequence[Network] = (),
        *,
        resolve: Resolver = system_resolver,
        attempts: int = 4,
        backoff: float = 1.0,
        timeout: float = 5.0,
        queue_size: int = 1000,
    ) -> None:
        check_url(url, allow, resolve)  # at startup: a refused URL is a configuration error
        self.url = url
        self._allow = tuple(allow)
        self._resolve = resolve
        self._attempts = attempts
        self._backoff = backoff
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgeorch-webhook", daemon=True)
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        """Start the delivery thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the payload in flight; queued ones are dropped."""
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._client.close()

    def send(self, payload: dict[str, Any]) -> bool:
        """Queue ``payload``; False (and a log line) when the queue is full."""
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            log.error("alert webhook queue is full; dropping a %s", payload.get("reason"))
            return False
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            payload = self._queue.get()
            if payload is None:
                return
            if self.deliver(payload):
                self.delivered += 1
            else:
                self.failed += 1

    def deliver(self, payload: dict[str, Any]) -> bool:
        """POST ``payload`` with retries; True once the receiver answered 2xx."""
        delay = self._backoff
        for attempt in range(1, self._attempts + 1):
            try:
                parts, addresses = check_url(self.url, self._allow, self._resolve)
                answer = self._post(parts, addresses[0], payload)
                if answer.is_success:
                    return True
                if answer.status_code < 500 and answer.status_code != 429:
                    log.error(
                        "alert webhook %s answered %d; not retrying", self.url, answer.status_code
                    )
                    return False
                problem = f"HTTP {answer.status_code}"
            except WebhookRefused as exc:
                log.error("%s; not delivering", exc)
                return False
            except httpx.HTTPError as exc:
                problem = repr(exc)
            log.warning(
                "alert webhook attempt %d of %d failed: %s", attempt, self._attempts, problem
            )
            if attempt < self._attempts and self._stop.wait(delay):
                return False
            delay *= 2
        return False

    def _post(
        self, parts: SplitResult, address: Address, payload: dict[str, Any]
    ) -> httpx.Response:
        host = f"[{address}]" if address.version == 6 else str(address)
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = parts.hostname or ""
        if parts.port is not None:
            host_header += f":{parts.port}"
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else None
        return self._client.post(
            pinned, json=payload, headers={"Host": host_header}, extensions=extensions
        )
