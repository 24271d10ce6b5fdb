"""Agent side: count each instance's requests between two heartbeats.

The ingress calls :meth:`RequestCollector.observe` once per request it forwarded to an instance.
The heartbeat loop :meth:`~RequestCollector.drain`\\ s the counts into
:class:`~edgeorch.telemetry.model.RequestStats` and, when the control plane did not acknowledge
the heartbeat, :meth:`~RequestCollector.restore`\\ s them, so a request is reported once when the
control plane is reachable and is carried over (not lost, not doubled) while it is not.
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from edgeorch.telemetry.histogram import BUCKETS, bucket_index
from edgeorch.telemetry.model import RequestStats

MAX_PENDING_INSTANCES = 10_000  # an agent cut off for days keeps a bounded map


@dataclass
class _Counts:
    workload: str
    requests: int = 0
    errors: int = 0
    latency_sum_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)


class RequestCollector:
    """Per-instance request counts and latency histograms since the last drain (thread-safe)."""

    def __init__(self) -> None:
        self._counts: dict[str, _Counts] = {}
        self._lock = threading.Lock()

    def observe(self, instance_id: str, workload: str, latency_ms: float, *, error: bool) -> None:
        """Count one request to ``instance_id`` that took ``latency_ms``."""
        with self._lock:
            counts = self._entry(instance_id, workload)
            if counts is None:
                return
            counts.requests += 1
            counts.errors += int(error)
            counts.latency_sum_ms += max(latency_ms, 0.0)
            counts.buckets[bucket_index(latency_ms)] += 1

    def _entry(self, instance_id: str, workload: str) -> _Counts | None:
        counts = self._counts.get(instance_id)
        if counts is None:
            if len(self._counts) >= MAX_PENDING_INSTANCES:
                return None
            counts = self._counts[instance_id] = _Counts(workload)
        return counts

    def drain(self) -> list[RequestStats]:
        """Everything counted since the last drain, emptied; instances without requests omitted."""
        with self._lock:
            counts, self._counts = self._counts, {}
        return [
            RequestStats(
                instance_id=instance_id,
                workload=c.workload,
                requests=c.requests,
                errors=c.errors,
                latency_sum_ms=round(c.latency_sum_ms, 3),
                buckets=c.buckets,
            )
            for instance_id, c in sorted(counts.items())
            if c.requests
        ]

    def restore(self, stats: Iterable[RequestStats]) -> None:
        """Put back drained stats the control plane never received."""
        with self._lock:
            for s in stats:
                counts = self._entry(s.instance_id, s.workload)
                if counts is None:
                    continue
                counts.requests += s.requests
                counts.errors += s.errors
                counts.latency_sum_ms += s.latency_sum_ms
                counts.buckets = [a + b for a, b in zip(counts.buckets, s.buckets, strict=True)]
