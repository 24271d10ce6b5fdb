"""Scenario files: a fleet described node by node, plus optional user populations.

YAML or JSON, one mapping::

    nodes:                      # one entry per node: a name, optional labels, and the Node spec
      - name: mel-tower-0001    #   of the API (edge_type, region, location, country, capacity, …)
        labels: {site: "10001"}
        edge_type: mec
        region: au-southeast
        location: {latitude: -37.81, longitude: 144.96}
        country: AU
        capacity: {cpu: 16, memory_mb: 65536, storage_gb: 2000, bandwidth_mbps: 10000}
    users:                      # optional: where demand comes from (UserPoint of the API)
      - {latitude: -37.81, longitude: 144.96, weight: 3}

Every entry is validated with the API's own schemas before anything runs; each error names the
entry (position and name) and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edgeorch.placement.latency import ACCESS_RTT_MS_BY_EDGE_TYPE, rtt_ms
from edgeorch.schemas.errors import validation_errors
from edgeorch.schemas.node import NodeCreate, NodeSpec
from edgeorch.schemas.workload import UserPoint
from edgeorch.sim.fleet import SimNode


class ScenarioError(ValueError):
    """A scenario file that cannot be read or validated; ``problems`` lists each error."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message if not problems else message + ":\n  " + "\n  ".join(problems))
        self.problems = problems or []


@dataclass(frozen=True)
class Scenario:
    """A validated scenario."""

    nodes: list[SimNode]
    users: list[UserPoint] = field(default_factory=list)


def load_scenario(path: Path) -> Scenario:
    """Read and validate a YAML or JSON scenario file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {str(path)!r}: {exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScenarioError(f"scenario {str(path)!r} is not valid YAML/JSON: {exc}") from exc
    return parse_scenario(data, source=str(path))


def _problems(
    label: str, exc: ValidationError, model: type[NodeSpec] | type[UserPoint]
) -> list[str]:
    out = []
    for entry in validation_errors(exc.errors(), model, strip_body=False):
        line = f"{label}: {entry['field']}: {entry['message']}"
        if "value" in entry:
            line += f" (got {entry['value']!r})"
        if "accepted" in entry:
            line += f"; accepted: {entry['accepted']}"
        out.append(line)
    return out


def _node(index: int, raw: Any, problems: list[str]) -> NodeCreate | None:
    if not isinstance(raw, dict):
        problems.append(f"nodes[{index}]: must be a mapping with a name and the node spec")
        return None
    entry = dict(raw)
    name = entry.pop("name", None)
    label = f"nodes[{index}]" + (f" ({name})" if name else "")
    if not name:
        problems.append(f"{label}: name: every node needs a name")
        return None
    labels = entry.pop("labels", {})
    try:
        spec = NodeSpec.model_validate(entry)
    except ValidationError as exc:
        problems.extend(_problems(label, exc, NodeSpec))
        return None
    try:
        return NodeCreate.model_validate(
            {"metadata": {"name": name, "labels": labels}, "spec": spec}
        )
    except ValidationError as exc:
        for e in exc.errors():
            problems.append(f"{label}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
        return None


def parse_scenario(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate already-parsed scenario data (see the module docstring for the format)."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise ScenarioError(
            f"{source}: expected a mapping with a 'nodes' list (and optional 'users')"
        )
    unknown = sorted(set(data) - {"nodes", "users"})
    if unknown:
        raise ScenarioError(f"{source}: unknown top-level keys {unknown}; accepted: nodes, users")
    problems: list[str] = []
    created = [_node(i, raw, problems) for i, raw in enumerate(data["nodes"])]
    users: list[UserPoint] = []
    for i, raw in enumerate(data.get("users") or []):
        try:
            users.append(UserPoint.model_validate(raw))
        except ValidationError as exc:
            problems.extend(_problems(f"users[{i}]", exc, UserPoint))
    names = [n.metadata.name for n in created if n is not None]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"nodes: duplicate names {dupes}; every node needs its own name")
    if problems:
        raise ScenarioError(f"{source}: {len(problems)} problem(s)", problems)
    if not names:
        raise ScenarioError(f"{source}: the 'nodes' list is empty")
    nodes = [_sim_node(n, users) for n in created if n is not None]
    return Scenario(nodes, users)


def _sim_node(node: NodeCreate, users: list[UserPoint]) -> SimNode:
    """The node with its modelled RTT: to the nearest user population when there are users,
    else the access network of its edge type."""
    spec = node.spec
    access = ACCESS_RTT_MS_BY_EDGE_TYPE[spec.edge_type]
    if users:
        lat, lon = spec.location.latitude, spec.location.longitude
        access = min(rtt_ms(u.latitude, u.longitude, lat, lon, access) for u in users)
    return SimNode(node, round(access, 3))
