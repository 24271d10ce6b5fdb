"""Compact, columnar reads of the fleet for the dashboard (``/api/v1/dashboard/fleet``) and the
small per-object records the change stream carries (``/api/v1/stream``).

The dashboard draws every node of a 10,000-node fleet, so it needs the few fields it draws, not
the full objects: nodes come as columns (one array per field, categorical fields as a vocabulary
plus integer codes), instances likewise, workloads as a short list. These reads select the JSON
columns of the rows directly instead of validating every object into its API model: it is a
read-only view, and it is the difference between tens and hundreds of milliseconds at 10,000
nodes. Every read here runs in one read session, so the snapshot and the revision it reports
agree, and the stream resumes from exactly that revision.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from edgeorch.store import current_revision
from edgeorch.store.sql.orm import EventRow, InstanceRow, NodeRow, WorkloadRow

UTIL_FIELDS = ("cpu", "memory", "storage", "bandwidth")
_IN_CHUNK = 500  # ids per IN (...) query; well under SQLite's bound-parameter limit


class Vocab:
    """Strings to small integer codes, in order of first appearance."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, word: str) -> int:
        """The code of ``word``, assigned on first use."""
        found = self._codes.get(word)
        if found is None:
            found = self._codes[word] = len(self.words)
            self.words.append(word)
        return found


def node_record(
    node_id: str, name: str, tenant: str, spec: dict[str, Any], status: dict[str, Any]
) -> dict[str, Any]:
    """The fields the dashboard shows of one node."""
    location = spec.get("location") or {}
    util = status.get("utilization") or {}
    capacity = spec.get("capacity") or {}
    return {
        "id": node_id,
        "name": name,
        "tenant": tenant,
        "region": spec.get("region", ""),
        "edge_type": spec.get("edge_type", ""),
        "country": spec.get("country", ""),
        "lat": round(float(location.get("latitude", 0.0)), 4),
        "lon": round(float(location.get("longitude", 0.0)), 4),
        "state": status.get("state", "pending"),
        "scheduling": spec.get("scheduling", "enabled"),
        "util": [round(float(util.get(f, 0.0)), 3) for f in UTIL_FIELDS],
        "instances": int(status.get("instances", 0)),
        "cpu": float(capacity.get("cpu", 0.0)),
        "memory_mb": int(capacity.get("memory_mb", 0)),
        "last_heartbeat": status.get("last_heartbeat"),
    }


def instance_record(
    instance_id: str, name: str, tenant: str, spec: dict[str, Any], status: dict[str, Any]
) -> dict[str, Any]:
    """The fields the dashboard shows of one instance (the explanation is fetched on demand)."""
    return {
        "id": instance_id,
        "name": name,
        "tenant": tenant,
        "workload_id": spec.get("workload_id", ""),
        "node_id": spec.get("node_id"),
        "replica": int(spec.get("replica", 0)),
        "desired_state": spec.get("desired_state", "running"),
        "state": status.get("state", "pending"),
        "score": status.get("score"),
        "message": status.get("message", ""),
    }


def workload_record(
    workload_id: str, name: str, tenant: str, spec: dict[str, Any], status: dict[str, Any]
) -> dict[str, Any]:
    """The fields the dashboard shows of one workload, with its user populations."""
    placement = spec.get("placement") or {}
    scaling = spec.get("scaling")
    return {
        "id": workload_id,
        "name": name,
        "tenant": tenant,
        "runtime": spec.get("runtime", ""),
        "replicas": spec.get("replicas"),
        "scaling": None if scaling is None else [scaling.get("min"), scaling.get("max")],
        "desired": int(status.get("desired_replicas", 0)),
        "placed": int(status.get("placed_replicas", 0)),
        "running": int(status.get("running_replicas", 0)),
        "message": status.get("message", ""),
        "users": [
            [u.get("latitude", 0.0), u.get("longitude", 0.0), u.get("weight", 1.0)]
            for u in placement.get("users") or []
        ],
        "user_regions": list(placement.get("user_regions") or []),
        "max_latency_ms": placement.get("max_latency_ms"),
    }


def fleet_columns(*, session: Session, tenant: str | None) -> dict[str, Any]:
    """Every node, instance and workload visible to ``tenant`` (None: all), at one revision.

    Nodes and instances come as columns; ``region``, ``edge_type``, ``country``, ``state`` and
    ``scheduling`` are codes into the ``vocab`` lists of the same name; ``util`` is four arrays
    (cpu, memory, storage, bandwidth fractions); an instance's ``node`` and ``workload`` are row
    indexes into the node columns and the workload list (-1: unbound or not visible).
    """
    revision = current_revision(session=session)
    vocab = {k: Vocab() for k in ("region", "edge_type", "country", "state", "scheduling")}
    nodes: dict[str, list[Any]] = {
        k: [] for k in ("id", "name", "lat", "lon", "instances", "cpu", "memory_mb", *vocab.keys())
    }
    util: list[list[float]] = [[] for _ in UTIL_FIELDS]
    node_rows: dict[str, int] = {}
    for row in _rows(session, NodeRow, tenant):
        record = node_record(row.id, row.name, row.tenant, row.spec, row.status)
        node_rows[row.id] = len(nodes["id"])
        for key in ("id", "name", "lat", "lon", "instances", "cpu", "memory_mb"):
            nodes[key].append(record[key])
        for key, words in vocab.items():
            nodes[key].append(words.code(str(record[key])))
        for column, value in zip(util, record["util"], strict=True):
            column.append(value)
    workloads = [
        workload_record(row.id, row.name, row.tenant, row.spec, row.status)
        for row in _rows(session, WorkloadRow, tenant)
    ]
    workload_rows = {w["id"]: i for i, w in enumerate(workloads)}
    instances: dict[str, list[Any]] = {
        k: [] for k in ("id", "name", "workload", "node", "replica", "state", "desired", "score")
    }
    states = Vocab()
    for row in _rows(session, InstanceRow, tenant):
        record = instance_record(row.id, row.name, row.tenant, row.spec, row.status)
        instances["id"].append(row.id)
        instances["name"].append(row.name)
        instances["workload"].append(workload_rows.get(record["workload_id"], -1))
        instances["node"].append(node_rows.get(record["node_id"] or "", -1))
        instances["replica"].append(record["replica"])
        instances["state"].append(states.code(record["state"]))
        instances["desired"].append(1 if record["desired_state"] == "running" else 0)
        score = record["score"]
        instances["score"].append(None if score is None else round(float(score), 4))
    return {
        "revision": revision,
        "nodes": {
            **nodes,
            "util": util,
            "util_fields": list(UTIL_FIELDS),
            "vocab": {k: v.words for k, v in vocab.items()},
        },
        "workloads": workloads,
        "instances": {**instances, "vocab": {"state": states.words}},
    }


def _rows(session: Session, model: type[Any], tenant: str | None) -> Iterable[Any]:
    query = select(model.id, model.name, model.tenant, model.spec, model.status)
    if tenant is not None:
        query = query.where(model.tenant == tenant)
    return session.execute(query.order_by(model.name, model.id))


def read_records(*, session: Session, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The dashboard records of the objects of ``kind`` with these ids that still exist."""
    models: dict[str, type[Any]] = {
        "Node": NodeRow,
        "Instance": InstanceRow,
        "Workload": WorkloadRow,
    }
    if kind == "Event":
        return _event_records(session, ids)
    model = models.get(kind)
    if model is None:
        return {}
    build = {"Node": node_record, "Instance": instance_record, "Workload": workload_record}[kind]
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[start : start + _IN_CHUNK])
        query = select(model.id, model.name, model.tenant, model.spec, model.status).where(
            model.id.in_(chunk)
        )
        for row in session.execute(query):
            out[row.id] = build(row.id, row.name, row.tenant, row.spec, row.status)
    return out


def _event_records(session: Session, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[start : start + _IN_CHUNK])
        for row in session.scalars(select(EventRow).where(EventRow.id.in_(chunk))):
            out[row.id] = {
                "id": row.id,
                "tenant": row.tenant,
                "time": row.time.isoformat(),
                "type": row.type,
                "reason": row.reason,
                "message": row.message,
                "object": f"{row.involved_kind}/{row.involved_name}",
            }
    return out
