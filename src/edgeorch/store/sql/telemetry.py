"""Recorded telemetry: request-stat samples and node utilization history.

Two append-only tables, written in batches by the server's
:class:`~edgeorch.telemetry.recorder.TelemetryRecorder` and read by analytics and alert rules:

- ``request_samples``: per instance and time bucket, the requests, errors and the latency
  histogram (one column per :data:`~edgeorch.telemetry.histogram.BOUNDS_MS` bucket, ``b00`` ..
  ``b15``), so percentiles over any set of instances, nodes, regions and times come from one
  ``SUM`` per bucket.
- ``node_usage``: per node and interval (one minute by default), the mean utilization the agent
  reported and the node's capacity then, so a region's history can be weighted by capacity even
  after nodes were resized or removed.

Invariants: rows are never updated; no foreign keys (history outlives the objects it describes);
:func:`prune_telemetry` deletes by time only.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Float,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session

from edgeorch.store.sql.orm import ID_LENGTH, NAME_LENGTH, Base
from edgeorch.store.sql.types import BigIntPK, UTCDateTime
from edgeorch.telemetry.histogram import BUCKETS

BUCKET_COLUMNS = tuple(f"b{i:02d}" for i in range(BUCKETS))

request_samples = Table(
    "request_samples",
    Base.metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime, nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("tenant", String(NAME_LENGTH), nullable=False),
    Column("workload_id", String(ID_LENGTH), nullable=False),
    Column("workload", String(NAME_LENGTH), nullable=False),
    Column("instance_id", String(ID_LENGTH), nullable=False),
    Column("node_id", String(ID_LENGTH), nullable=False),
    Column("region", String(63), nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("latency_sum_ms", Float, nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in BUCKET_COLUMNS),
    Index("ix_request_samples_time", "time"),
    Index("ix_request_samples_workload", "workload_id", "time"),
)

node_usage = Table(
    "node_usage",
    Base.metadata,
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime, nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("tenant", String(NAME_LENGTH), nullable=False),
    Column("node_id", String(ID_LENGTH), nullable=False),
    Column("region", String(63), nullable=False),
    Column("cpu", Float, nullable=False),
    Column("memory", Float, nullable=False),
    Column("storage", Float, nullable=False),
    Column("cpu_capacity", Float, nullable=False),
    Column("memory_mb_capacity", BigInteger, nullable=False),
    Column("samples", Integer, nullable=False),
    Index("ix_node_usage_region", "region", "time"),
    Index("ix_node_usage_time", "time"),
)


@dataclass(frozen=True)
class RequestSample:
    """One instance's requests in one time bucket (``time`` is the bucket's start)."""

    time: datetime
    seconds: int
    tenant: str
    workload_id: str
    workload: str
    instance_id: str
    node_id: str
    region: str
    requests: int
    errors: int
    latency_sum_ms: float
    buckets: tuple[int, ...]


@dataclass(frozen=True)
class NodeUsage:
    """One node's mean utilization over ``seconds`` from ``time``, and its capacity then."""

    time: datetime
    seconds: int
    tenant: str
    node_id: str
    region: str
    cpu: float
    memory: float
    storage: float
    cpu_capacity: float
    memory_mb_capacity: int
    samples: int


@dataclass(frozen=True)
class RequestTotals:
    """Summed requests of one group (a workload, a region, ...) over a time range."""

    key: tuple[str, ...]
    requests: int
    errors: int
    latency_sum_ms: float
    buckets: tuple[int, ...]


def record_request_samples(*, session: Session, samples: Sequence[RequestSample]) -> int:
    """Append ``samples`` in one statement; returns how many."""
    if not samples:
        return 0
    rows = [_sample_row(s) for s in samples]
    session.execute(insert(request_samples), rows)
    return len(rows)


def _sample_row(s: RequestSample) -> dict[str, Any]:
    row: dict[str, Any] = {
        "time": s.time,
        "seconds": s.seconds,
        "tenant": s.tenant,
        "workload_id": s.workload_id,
        "workload": s.workload,
        "instance_id": s.instance_id,
        "node_id": s.node_id,
        "region": s.region,
        "requests": s.requests,
        "errors": s.errors,
        "latency_sum_ms": s.latency_sum_ms,
    }
    row.update(zip(BUCKET_COLUMNS, s.buckets, strict=True))
    return row


def record_node_usage(*, session: Session, usage: Sequence[NodeUsage]) -> int:
    """Append ``usage`` rows in one statement; returns how many."""
    if not usage:
        return 0
    rows = [dict(u.__dict__) for u in usage]
    session.execute(insert(node_usage), rows)
    return len(rows)


GROUPS = {
    "workload": ("tenant", "workload_id", "workload"),
    "region": ("region",),
    "workload_region": ("tenant", "workload_id", "workload", "region"),
    "instance": ("tenant", "workload_id", "workload", "instance_id", "node_id", "region"),
}


def request_totals(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    by: str,
    tenant: str | None = None,
    workload_id: str | None = None,
) -> list[RequestTotals]:
    """Requests of samples whose bucket starts in ``[since, until)``, summed per group ``by``
    (a key of :data:`GROUPS`), ordered by the group key."""
    keys = [request_samples.c[name] for name in GROUPS[by]]
    sums = [
        func.sum(request_samples.c.requests),
        func.sum(request_samples.c.errors),
        func.sum(request_samples.c.latency_sum_ms),
        *(func.sum(request_samples.c[name]) for name in BUCKET_COLUMNS),
    ]
    where: list[ColumnElement[bool]] = [
        request_samples.c.time >= since,
        request_samples.c.time < until,
    ]
    if tenant is not None:
        where.append(request_samples.c.tenant == tenant)
    if workload_id is not None:
        where.append(request_samples.c.workload_id == workload_id)
    query = select(*keys, *sums).where(*where).group_by(*keys).order_by(*keys)
    out = []
    for row in session.execute(query):
        n = len(keys)
        out.append(
            RequestTotals(
                key=tuple(str(v) for v in row[:n]),
                requests=int(row[n]),
                errors=int(row[n + 1]),
                latency_sum_ms=float(row[n + 2]),
                buckets=tuple(int(v) for v in row[n + 3 :]),
            )
        )
    return out


def read_node_usage(
    *, session: Session, since: datetime, until: datetime, region: str | None = None
) -> list[NodeUsage]:
    """Usage rows whose interval starts in ``[since, until)``, by region, time, node."""
    where: list[ColumnElement[bool]] = [node_usage.c.time >= since, node_usage.c.time < until]
    if region is not None:
        where.append(node_usage.c.region == region)
    columns = [c for c in node_usage.c if c.name != "seq"]
    query = (
        select(*columns)
        .where(*where)
        .order_by(node_usage.c.region, node_usage.c.time, node_usage.c.node_id)
    )
    return [NodeUsage(**row._mapping) for row in session.execute(query)]


def prune_telemetry(*, session: Session, before: datetime) -> int:
    """Delete samples and usage rows older than ``before``; returns how many rows went."""
    gone = 0
    for table in (request_samples, node_usage):
        result = session.execute(delete(table).where(table.c.time < before))
        gone += int(getattr(result, "rowcount", 0) or 0)
    return gone
