"""Compact, columnar reads of the fleet for the dashboard (``/api/v1/dashboard/fleet``) and the
small per-object records the change stream carries (``/api/v1/stream``).

The dashboard draws every node of a 10,000-node fleet, so it needs the few fields it draws, not
the full objects: nodes come as columns (one array per field, categorical fields as a vocabulary
plus integer codes), instances likewise, workloads as a short list. Node and instance fields are
extracted from the JSON columns by the database (``json_extract`` on SQLite, ``->`` on
PostgreSQL) instead of decoding every row's whole spec and status and validating it into its API
model: it is a read-only view, and at 10,000 nodes it halves the time of the read. Every
read here runs in one read session, so the snapshot and the revision it reports agree, and the
stream resumes from exactly that revision.
"""

from collections.abc import Callable, Iterable, Sequence
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


_util = NodeRow.status["utilization"]
# The node fields the dashboard shows, in the order node_record() reads them.
NODE_COLUMNS = (
    NodeRow.id,
    NodeRow.name,
    NodeRow.tenant,
    NodeRow.region,
    NodeRow.edge_type,
    NodeRow.spec["country"].as_string(),
    NodeRow.spec["location"]["latitude"].as_float(),
    NodeRow.spec["location"]["longitude"].as_float(),
    NodeRow.state,
    NodeRow.spec["scheduling"].as_string(),
    _util["cpu"].as_float(),
    _util["memory"].as_float(),
    _util["storage"].as_float(),
    _util["bandwidth"].as_float(),
    NodeRow.status["instances"].as_integer(),
    NodeRow.spec["capacity"]["cpu"].as_float(),
    NodeRow.spec["capacity"]["memory_mb"].as_integer(),
    NodeRow.status["last_heartbeat"].as_string(),
)
INSTANCE_COLUMNS = (
    InstanceRow.id,
    InstanceRow.name,
    InstanceRow.tenant,
    InstanceRow.workload_id,
    InstanceRow.node_id,
    InstanceRow.spec["replica"].as_integer(),
    InstanceRow.spec["desired_state"].as_string(),
    InstanceRow.state,
    InstanceRow.status["score"].as_float(),
    InstanceRow.status["message"].as_string(),
)


def node_record(row: Sequence[Any]) -> dict[str, Any]:
    """The fields the dashboard shows of one node, from a row of :data:`NODE_COLUMNS`."""
    (node_id, name, tenant, region, edge_type, country, lat, lon, state, scheduling) = row[:10]
    cpu, memory, storage, bandwidth, instances, cap_cpu, cap_memory, heartbeat = row[10:]
    return {
        "id": node_id,
        "name": name,
        "tenant": tenant,
        "region": region,
        "edge_type": edge_type,
        "country": country or "",
        "lat": round(float(lat or 0.0), 4),
        "lon": round(float(lon or 0.0), 4),
        "state": state,
        "scheduling": scheduling or "enabled",
        "util": [round(float(u or 0.0), 3) for u in (cpu, memory, storage, bandwidth)],
        "instances": int(instances or 0),
        "cpu": float(cap_cpu or 0.0),
        "memory_mb": int(cap_memory or 0),
        "last_heartbeat": heartbeat,
    }


def instance_record(row: Sequence[Any]) -> dict[str, Any]:
    """The fields the dashboard shows of one instance, from a row of :data:`INSTANCE_COLUMNS`
    (the explanation is fetched on demand)."""
    instance_id, name, tenant, workload_id, node_id, replica, desired, state, score, message = row
    return {
        "id": instance_id,
        "name": name,
        "tenant": tenant,
        "workload_id": workload_id,
        "node_id": node_id,
        "replica": int(replica or 0),
        "desired_state": desired or "running",
        "state": state,
        "score": None if score is None else round(float(score), 4),
        "message": message or "",
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
    plain = ("id", "name", "lat", "lon", "instances", "cpu", "memory_mb")
    nodes: dict[str, list[Any]] = {k: [] for k in (*plain, *vocab)}
    util: list[list[float]] = [[] for _ in UTIL_FIELDS]
    node_rows: dict[str, int] = {}
    for row in _select(session, NODE_COLUMNS, NodeRow, tenant):
        record = node_record(row)
        node_rows[record["id"]] = len(nodes["id"])
        for key in plain:
            nodes[key].append(record[key])
        for key, words in vocab.items():
            nodes[key].append(words.code(str(record[key])))
        for column, value in zip(util, record["util"], strict=True):
            column.append(value)
    workloads = [
        workload_record(row.id, row.name, row.tenant, row.spec, row.status)
        for row in _select(session, _WORKLOAD_COLUMNS, WorkloadRow, tenant)
    ]
    workload_rows = {w["id"]: i for i, w in enumerate(workloads)}
    keys = ("id", "name", "workload", "node", "replica", "state", "desired", "score")
    instances: dict[str, list[Any]] = {k: [] for k in keys}
    states = Vocab()
    for row in _select(session, INSTANCE_COLUMNS, InstanceRow, tenant):
        record = instance_record(row)
        instances["id"].append(record["id"])
        instances["name"].append(record["name"])
        instances["workload"].append(workload_rows.get(record["workload_id"], -1))
        instances["node"].append(node_rows.get(record["node_id"] or "", -1))
        instances["replica"].append(record["replica"])
        instances["state"].append(states.code(record["state"]))
        instances["desired"].append(1 if record["desired_state"] == "running" else 0)
        instances["score"].append(record["score"])
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


_WORKLOAD_COLUMNS = (
    WorkloadRow.id,
    WorkloadRow.name,
    WorkloadRow.tenant,
    WorkloadRow.spec,
    WorkloadRow.status,
)


def _select(
    session: Session, columns: Sequence[Any], model: type[Any], tenant: str | None
) -> Iterable[Any]:
    query = select(*columns)
    if tenant is not None:
        query = query.where(model.tenant == tenant)
    return session.execute(query.order_by(model.name, model.id))


def read_records(*, session: Session, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The dashboard records of the objects of ``kind`` with these ids that still exist."""
    if kind == "Event":
        return _event_records(session, ids)
    readers: dict[str, tuple[Sequence[Any], type[Any], Callable[[Any], dict[str, Any]]]] = {
        "Node": (NODE_COLUMNS, NodeRow, node_record),
        "Instance": (INSTANCE_COLUMNS, InstanceRow, instance_record),
        "Workload": (
            _WORKLOAD_COLUMNS,
            WorkloadRow,
            lambda r: workload_record(r.id, r.name, r.tenant, r.spec, r.status),
        ),
    }
    if kind not in readers:
        return {}
    columns, model, build = readers[kind]
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[start : start + _IN_CHUNK])
        for row in session.execute(select(*columns).where(model.id.in_(chunk))):
            out[row[0]] = build(row)
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
