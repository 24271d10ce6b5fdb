"""Webhook address checks and delivery to a real local receiver."""

import ipaddress
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from edgeorch.alerts.settings import AlertSettings, parse_networks
from edgeorch.alerts.webhook import WebhookRefused, WebhookSender, check_url


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_internal_addresses_are_refused_naming_url_and_address(address: str, why: str) -> None:
    url = "https://hooks.example.com/alerts"
    with pytest.raises(WebhookRefused) as refused:
        check_url(url, (), resolver(address))
    message = str(refused.value)
    assert url in message and why in message
    assert str(ipaddress.ip_address(address)) in message


def test_every_resolved_address_is_checked() -> None:
    with pytest.raises(WebhookRefused, match=re.escape("10.0.0.5")):
        check_url("http://hooks.example.com/", (), resolver("93.184.216.34", "10.0.0.5"))
    _, addresses = check_url("http://hooks.example.com/", (), resolver("93.184.216.34"))
    assert [str(a) for a in addresses] == ["93.184.216.34"]


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///nohost"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(WebhookRefused, match="http"):
        check_url(url, (), resolver("93.184.216.34"))


def test_allow_networks_is_an_explicit_override() -> None:
    allow = parse_networks("127.0.0.1/32, 10.0.0.0/8")
    check_url("http://localhost:9/", allow, resolver("127.0.0.1"))
    with pytest.raises(WebhookRefused, match=re.escape("127.0.0.2")):
        check_url("http://localhost:9/", allow, resolver("127.0.0.2"))
    with pytest.raises(ValueError, match="not-a-network"):
        parse_networks("not-a-network")


def test_refused_url_is_a_startup_error() -> None:
    settings = AlertSettings.from_env({"EDGEORCH_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/x"})
    with pytest.raises(WebhookRefused, match=re.escape("http://127.0.0.1:9/x")):
        WebhookSender(settings.webhook_url or "", settings.webhook_allow)


class Receiver:
    def __init__(self, fail_first: int) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.hosts: list[str] = []
        self.fail_first = fail_first
        self.got = threading.Event()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    state = Receiver(fail_first=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.fail_first > 0:
                state.fail_first -= 1
                self.send_response(503)
                self.end_headers()
                return
            state.bodies.append(json.loads(body))
            state.hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()
            state.got.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_delivery_retries_and_connects_to_the_checked_address(
    receiver: tuple[Receiver, int],
) -> None:
    state, port = receiver
    sender = WebhookSender(
        f"http://alerts.test:{port}/hook",
        parse_networks("127.0.0.1/32"),
        resolve=resolver("127.0.0.1"),  # "alerts.test" does not exist: only the checked IP works
        backoff=0.05,
    )
    sender.start()
    try:
        assert sender.send({"reason": "AlertFiring", "alert": {"rule": "NodeDown"}})
        assert state.got.wait(5)
    finally:
        sender.stop()
    assert state.bodies == [{"reason": "AlertFiring", "alert": {"rule": "NodeDown"}}]
    assert state.hosts == [f"alerts.test:{port}"]
    assert sender.delivered == 1


def test_rebinding_to_an_internal_address_is_not_delivered(
    receiver: tuple[Receiver, int],
) -> None:
    state, port = receiver
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # public at startup, loopback later
    sender = WebhookSender(
        f"http://alerts.test:{port}/hook", (), resolve=lambda h, p: next(answers), backoff=0.01
    )
    assert sender.deliver({"reason": "AlertFiring"}) is False
    assert state.bodies == []
