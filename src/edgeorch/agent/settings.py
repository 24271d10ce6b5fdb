"""Agent settings: flags override ``EDGEORCH_AGENT_*`` environment variables, which override a
YAML config file (``--config``), which overrides the defaults.

| setting            | flag                     | env ``EDGEORCH_AGENT_`` + | default       |
|--------------------|--------------------------|--------------------------|---------------|
| control plane URL  | ``--server``             | ``SERVER``               | (required)    |
| join token         | ``--join-token``         | ``JOIN_TOKEN``           | (first start) |
| data directory     | ``--data-dir``           | ``DATA_DIR``             | (required)    |
| node name          | ``--name``               | ``NAME``                 | host name     |
| node facts         | ``--region`` ...         | ``REGION`` ...           | none          |
| labels             | ``--label k=v``          | ``LABELS=k=v,k=v``       | none          |
| ingress address    | ``--listen``             | ``LISTEN``               | 127.0.0.1:0   |
| heartbeat interval | ``--heartbeat-interval`` | ``HEARTBEAT_INTERVAL``   | 5 s           |
| watch timeout      | ``--watch-timeout``      | ``WATCH_TIMEOUT``        | 30 s          |
| request timeout    | ``--request-timeout``    | ``REQUEST_TIMEOUT``      | 10 s          |

The node facts are ``region zone latitude longitude country edge_type cost_per_hour``; the config
file uses the same names as keys (``labels`` as a mapping).
"""

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from edgeorch.agent.protocol import NodeFacts
from edgeorch.config import parse_listen
from edgeorch.schemas.common import StrictModel
from edgeorch.schemas.envelope import Labels, Name

ENV_PREFIX = "EDGEORCH_AGENT_"
FACT_KEYS = ("region", "zone", "latitude", "longitude", "country", "edge_type", "cost_per_hour")
KEYS = (
    "server",
    "join_token",
    "data_dir",
    "name",
    "labels",
    "listen",
    "heartbeat_interval",
    "watch_timeout",
    "request_timeout",
    *FACT_KEYS,
)


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it and what is accepted."""


class AgentSettings(StrictModel):
    """Everything ``edgeorch agent`` needs."""

    server: str = Field(pattern=r"^https?://")
    data_dir: Path
    join_token: str | None = None
    name: Name
    labels: Labels = Field(default_factory=dict)
    facts: NodeFacts = Field(default_factory=NodeFacts)
    listen: str = "127.0.0.1:0"
    heartbeat_interval: float = Field(default=5.0, gt=0)
    watch_timeout: float = Field(default=30.0, gt=0)
    request_timeout: float = Field(default=10.0, gt=0)


def default_name() -> str:
    """The host name, lower-cased, with characters a node name may not hold replaced by '-'."""
    name = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip("-.")
    return name or "edge-node"


def parse_labels(items: list[str] | str) -> dict[str, str]:
    """``["k=v", ...]`` or ``"k=v,k=v"`` as a dict; SettingsError names a bad item."""
    if isinstance(items, str):
        items = [i for i in items.split(",") if i.strip()]
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"label {item!r} is not KEY=VALUE (for example tier=gold)")
        labels[key.strip()] = value.strip()
    return labels


def _from_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml  # only with --config: an agent configured by flags does not load it

    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"cannot read agent config {str(path)!r}: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"agent config {str(path)!r} must be a mapping of setting: value")
    unknown = sorted(set(loaded) - set(KEYS))
    if unknown:
        raise SettingsError(
            f"agent config {str(path)!r} has unknown keys {unknown}; known: {', '.join(KEYS)}"
        )
    return dict(loaded)


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in KEYS:
        value = environ.get(ENV_PREFIX + key.upper())
        if value:
            found[key] = parse_labels(value) if key == "labels" else value
    return found


def load_settings(
    flags: Mapping[str, Any],
    *,
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> AgentSettings:
    """Merge defaults, the config file, the environment and the flags (None means unset)."""
    merged = _from_file(config)
    merged.update(_from_env(os.environ if environ is None else environ))
    merged.update({k: v for k, v in flags.items() if v is not None and v != []})
    if isinstance(merged.get("labels"), list | str):
        merged["labels"] = parse_labels(merged["labels"])
    missing = [k for k in ("server", "data_dir") if not merged.get(k)]
    if missing:
        raise SettingsError(
            "missing "
            + ", ".join(f"--{k.replace('_', '-')}" for k in missing)
            + " (or "
            + ", ".join(ENV_PREFIX + k.upper() for k in missing)
            + ")"
        )
    merged.setdefault("name", default_name())
    merged["facts"] = {k: merged.pop(k) for k in FACT_KEYS if k in merged}
    try:
        settings = AgentSettings.model_validate(merged)
        parse_listen(settings.listen)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}={e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        )
        raise SettingsError(f"invalid agent settings: {problems}") from exc
    except ValueError as exc:
        raise SettingsError(f"invalid --listen: {exc}") from exc
    return settings.model_copy(update={"data_dir": settings.data_dir.expanduser().resolve()})
