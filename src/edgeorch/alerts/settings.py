"""Alert settings, from the environment.

| setting                         | environment                              | default |
|---------------------------------|------------------------------------------|---------|
| evaluation interval             | ``EDGEORCH_ALERT_INTERVAL``              | 5 s     |
| telemetry window of the rules   | ``EDGEORCH_ALERT_WINDOW``                | 300 s   |
| requests needed to judge        | ``EDGEORCH_ALERT_MIN_REQUESTS``          | 20      |
| response time (p95) warning     | ``EDGEORCH_ALERT_RESPONSE_TIME_MS``      | 100 ms  |
| error rate critical             | ``EDGEORCH_ALERT_ERROR_RATE``            | 0.05    |
| region capacity warning         | ``EDGEORCH_ALERT_CAPACITY_THRESHOLD``    | 0.85    |
| webhook URL                     | ``EDGEORCH_ALERT_WEBHOOK_URL``           | none    |
| networks the webhook may reach  | ``EDGEORCH_ALERT_WEBHOOK_ALLOW_NETWORKS`` | none   |

The thresholds are the brochure's ("response_time > 100ms: warning", "error_rate > 5%:
critical"). ``EDGEORCH_ALERT_WEBHOOK_ALLOW_NETWORKS`` is a comma-separated list of CIDR networks
exempt from the refusal of internal addresses (for example ``127.0.0.1/32`` for a receiver on
this machine); see ``alerts/webhook.py``.
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from edgeorch.config import env_number

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """CIDR networks from a comma-separated list; a bad entry is named."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"EDGEORCH_ALERT_WEBHOOK_ALLOW_NETWORKS entry {part!r} is not a CIDR network "
                "(for example 127.0.0.1/32 or 10.0.0.0/8)"
            ) from exc
    return tuple(out)


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds, window and interval of the alert rules, and the webhook."""

    interval: float = 5.0
    window: float = 300.0
    min_requests: int = 20
    response_time_ms: float = 100.0
    error_rate: float = 0.05
    capacity_threshold: float = 0.85
    webhook_url: str | None = None
    webhook_allow: tuple[Network, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AlertSettings":
        """The settings from ``EDGEORCH_ALERT_*``; a bad value is a ValueError naming it."""
        env = os.environ if environ is None else environ
        return cls(
            interval=env_number(env, "EDGEORCH_ALERT_INTERVAL", 5.0),
            window=env_number(env, "EDGEORCH_ALERT_WINDOW", 300.0),
            min_requests=int(env_number(env, "EDGEORCH_ALERT_MIN_REQUESTS", 20)),
            response_time_ms=env_number(env, "EDGEORCH_ALERT_RESPONSE_TIME_MS", 100.0),
            error_rate=env_number(env, "EDGEORCH_ALERT_ERROR_RATE", 0.05, upper=1.0),
            capacity_threshold=env_number(
                env, "EDGEORCH_ALERT_CAPACITY_THRESHOLD", 0.85, upper=1.0
            ),
            webhook_url=env.get("EDGEORCH_ALERT_WEBHOOK_URL") or None,
            webhook_allow=parse_networks(env.get("EDGEORCH_ALERT_WEBHOOK_ALLOW_NETWORKS", "")),
        )
