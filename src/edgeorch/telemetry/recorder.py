"""Server side: turn heartbeats into telemetry rows without slowing the heartbeat path.

A heartbeat only adds to in-memory aggregates (a dict update under a lock):

- request stats, summed per (instance, time bucket of ``bucket_seconds``, 10 s by default);
- utilization, averaged per (node, interval of ``usage_seconds``, 60 s by default): one
  ``node_usage`` row per node per minute however often the node beats.

Every ``flush_seconds`` (5 s by default) the heartbeat that notices it is time writes everything
buffered in one transaction (one multi-row INSERT per table) and, at most every
``prune_every`` seconds, deletes rows older than the retention (7 days by default). A usage
interval is written once it is over; request buckets are written as they are (several rows for
one bucket merge by addition). A crash loses at most the unflushed few seconds.

| setting          | environment                          | default |
|------------------|--------------------------------------|---------|
| request bucket   | ``EDGEORCH_TELEMETRY_BUCKET_SECONDS`` | 10 s    |
| usage interval   | ``EDGEORCH_TELEMETRY_USAGE_SECONDS``  | 60 s    |
| flush interval   | ``EDGEORCH_TELEMETRY_FLUSH_SECONDS``  | 5 s     |
| retention        | ``EDGEORCH_TELEMETRY_RETENTION_HOURS`` | 168 h  |
"""

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from edgeorch.config import env_number
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node, Utilization
from edgeorch.store.database import Database
from edgeorch.store.sql.telemetry import (
    NodeUsage,
    RequestSample,
    prune_telemetry,
    record_node_usage,
    record_request_samples,
)
from edgeorch.telemetry.histogram import BUCKETS
from edgeorch.telemetry.model import RequestStats

log = logging.getLogger("edgeorch.telemetry")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TelemetrySettings:
    """Bucket sizes, flush interval and retention of recorded telemetry."""

    bucket_seconds: int = 10
    usage_seconds: int = 60
    flush_seconds: float = 5.0
    retention: timedelta = timedelta(days=7)
    prune_every: float = 600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "TelemetrySettings":
        """The settings from ``EDGEORCH_TELEMETRY_*`` (see the module docstring)."""
        env = os.environ if environ is None else environ
        return cls(
            bucket_seconds=max(1, int(env_number(env, "EDGEORCH_TELEMETRY_BUCKET_SECONDS", 10))),
            usage_seconds=max(1, int(env_number(env, "EDGEORCH_TELEMETRY_USAGE_SECONDS", 60))),
            flush_seconds=env_number(env, "EDGEORCH_TELEMETRY_FLUSH_SECONDS", 5.0),
            retention=timedelta(hours=env_number(env, "EDGEORCH_TELEMETRY_RETENTION_HOURS", 168)),
        )


def bucket_start(at: datetime, seconds: int) -> datetime:
    """The start of the ``seconds``-long bucket (aligned on the Unix epoch) containing ``at``."""
    offset = int((at - _EPOCH).total_seconds()) // seconds * seconds
    return _EPOCH + timedelta(seconds=offset)


@dataclass
class _Requests:
    sample: RequestSample
    requests: int = 0
    errors: int = 0
    latency_sum_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)


@dataclass
class _Usage:
    start: datetime
    node: Node
    cpu: float = 0.0
    memory: float = 0.0
    storage: float = 0.0
    samples: int = 0


class TelemetryRecorder:
    """In-memory aggregates of heartbeats, flushed to the store in batches (thread-safe)."""

    def __init__(
        self,
        settings: TelemetrySettings | None = None,
        *,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings or TelemetrySettings()
        self._monotonic = monotonic or time.monotonic
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._requests: dict[tuple[str, datetime], _Requests] = {}
        self._open_usage: dict[str, _Usage] = {}
        self._closed_usage: list[NodeUsage] = []
        self._last_flush = self._monotonic()
        self._last_prune: float | None = None

    def heartbeat(
        self,
        *,
        node: Node,
        utilization: Utilization,
        stats: Sequence[RequestStats],
        bound: Mapping[str, Instance],
        now: datetime,
    ) -> None:
        """Add one heartbeat of ``node`` at ``now``; stats of instances not in ``bound`` (the
        instances bound to the node) are dropped, as the instance reports are."""
        start = bucket_start(now, self.settings.bucket_seconds)
        with self._lock:
            for s in stats:
                instance = bound.get(s.instance_id)
                if instance is None or s.requests == 0:
                    continue
                self._add_requests(node, instance, s, start)
            self._add_usage(node, utilization, now)

    def _add_requests(
        self, node: Node, instance: Instance, s: RequestStats, start: datetime
    ) -> None:
        key = (s.instance_id, start)
        entry = self._requests.get(key)
        if entry is None:
            sample = RequestSample(
                time=start,
                seconds=self.settings.bucket_seconds,
                tenant=instance.metadata.tenant,
                workload_id=instance.spec.workload_id,
                workload=s.workload,
                instance_id=s.instance_id,
                node_id=node.metadata.id,
                region=node.spec.region,
                requests=0,
                errors=0,
                latency_sum_ms=0.0,
                buckets=(),
            )
            entry = self._requests[key] = _Requests(sample)
        entry.requests += s.requests
        entry.errors += s.errors
        entry.latency_sum_ms += s.latency_sum_ms
        for index, count in enumerate(s.buckets):
            entry.buckets[index] += count

    def _add_usage(self, node: Node, utilization: Utilization, now: datetime) -> None:
        start = bucket_start(now, self.settings.usage_seconds)
        node_id = node.metadata.id
        entry = self._open_usage.get(node_id)
        if entry is not None and entry.start != start:
            self._closed_usage.append(self._close(entry))
            entry = None
        if entry is None:
            entry = self._open_usage[node_id] = _Usage(start, node)
        entry.node = node
        entry.cpu += utilization.cpu
        entry.memory += utilization.memory
        entry.storage += utilization.storage
        entry.samples += 1

    def _close(self, entry: _Usage) -> NodeUsage:
        n = max(entry.samples, 1)
        spec = entry.node.spec
        return NodeUsage(
            time=entry.start,
            seconds=self.settings.usage_seconds,
            tenant=entry.node.metadata.tenant,
            node_id=entry.node.metadata.id,
            region=spec.region,
            cpu=entry.cpu / n,
            memory=entry.memory / n,
            storage=entry.storage / n,
            cpu_capacity=spec.capacity.cpu,
            memory_mb_capacity=spec.capacity.memory_mb,
            samples=entry.samples,
        )

    def due(self) -> bool:
        """Whether a flush is due."""
        return self._monotonic() - self._last_flush >= self.settings.flush_seconds

    def maybe_flush(self, database: Database, now: datetime) -> int:
        """Flush if due and no other thread is flushing; returns the rows written."""
        if not self.due() or not self._flushing.acquire(blocking=False):
            return 0
        try:
            return self.flush(database, now)
        finally:
            self._flushing.release()

    def flush(self, database: Database, now: datetime) -> int:
        """Write everything buffered (and usage intervals that ended before ``now``) in one
        transaction, and prune old rows when it is time. On a store error the rows are put
        back and the error is logged, so the heartbeat that flushed still succeeds."""
        samples, usage = self._take(now)
        self._last_flush = self._monotonic()
        prune = self._last_prune is None or (
            self._monotonic() - self._last_prune >= self.settings.prune_every
        )
        if not samples and not usage and not prune:
            return 0
        try:
            with database.write() as session:
                written = record_request_samples(session=session, samples=samples)
                written += record_node_usage(session=session, usage=usage)
                if prune:
                    prune_telemetry(session=session, before=now - self.settings.retention)
        except Exception:
            log.exception("recording %d telemetry rows failed; keeping them", len(samples))
            self._put_back(samples, usage)
            return 0
        if prune:
            self._last_prune = self._monotonic()
        return written

    def _take(self, now: datetime) -> tuple[list[RequestSample], list[NodeUsage]]:
        with self._lock:
            requests, self._requests = self._requests, {}
            current = bucket_start(now, self.settings.usage_seconds)
            for node_id, entry in list(self._open_usage.items()):
                if entry.start < current:
                    self._closed_usage.append(self._close(entry))
                    del self._open_usage[node_id]
            usage, self._closed_usage = self._closed_usage, []
        samples = [
            RequestSample(
                **{
                    **e.sample.__dict__,
                    "requests": e.requests,
                    "errors": e.errors,
                    "latency_sum_ms": e.latency_sum_ms,
                    "buckets": tuple(e.buckets),
                }
            )
            for e in requests.values()
        ]
        return samples, usage

    def _put_back(self, samples: list[RequestSample], usage: list[NodeUsage]) -> None:
        with self._lock:
            for s in samples:
                entry = self._requests.setdefault((s.instance_id, s.time), _Requests(s))
                entry.requests += s.requests
                entry.errors += s.errors
                entry.latency_sum_ms += s.latency_sum_ms
                entry.buckets = [a + b for a, b in zip(entry.buckets, s.buckets, strict=True)]
            self._closed_usage = usage + self._closed_usage
