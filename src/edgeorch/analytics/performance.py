"""``GET /analytics/performance``: response-time percentiles per workload and per region.

Percentiles come from the summed histogram buckets of every request sample whose bucket starts in
the window (``telemetry/histogram.py``: fixed bounds, linear interpolation inside the bucket that
holds the rank, like Prometheus' ``histogram_quantile``). Response time is measured at the
agent's ingress, from request received to response ready: it includes the workload's processing
and the proxy hop, not the users' network round trip.
"""

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.orm import Session

from edgeorch.store.sql.telemetry import RequestTotals, request_totals
from edgeorch.telemetry.histogram import BOUNDS_MS, quantile

INTERPOLATION = "linear inside the histogram bucket holding the rank (as histogram_quantile)"
PERCENTILES = (("p50_ms", 0.5), ("p90_ms", 0.9), ("p95_ms", 0.95), ("p99_ms", 0.99))


class LatencyStats(BaseModel):
    """Requests, errors and response-time percentiles (ms) of one group over the window.

    ``overflow`` is true when a percentile fell past the last bucket bound (then it is a lower
    bound); percentiles are None without requests."""

    requests: int
    errors: int
    error_rate: float | None
    mean_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    overflow: bool


class RegionPerformance(BaseModel):
    """One region's stats (all workloads, or one workload's replicas in that region)."""

    region: str
    stats: LatencyStats


class WorkloadPerformance(BaseModel):
    """One workload's stats, overall and per region it served from."""

    workload: str
    workload_id: str
    tenant: str
    stats: LatencyStats
    regions: list[RegionPerformance]


class PerformanceReport(BaseModel):
    """Body of ``GET /analytics/performance``."""

    since: datetime
    until: datetime
    window_seconds: float
    interpolation: str
    bounds_ms: list[float]
    workloads: list[WorkloadPerformance]
    regions: list[RegionPerformance]


def stats_of(totals: RequestTotals) -> LatencyStats:
    """Percentiles and rates of one group's summed histogram."""
    values: dict[str, float | None] = {}
    overflow = False
    for name, q in PERCENTILES:
        found = quantile(totals.buckets, q)
        values[name] = None if found is None else round(found.value_ms, 3)
        overflow = overflow or (found is not None and found.overflow)
    n = totals.requests
    return LatencyStats(
        requests=n,
        errors=totals.errors,
        error_rate=round(totals.errors / n, 6) if n else None,
        mean_ms=round(totals.latency_sum_ms / n, 3) if n else None,
        overflow=overflow,
        **values,
    )


def performance(
    *,
    session: Session,
    now: datetime,
    window: timedelta,
    tenant: str | None,
    workload_id: str | None = None,
) -> PerformanceReport:
    """Percentiles per workload (with its regions) and per region over ``[now - window, now)``."""
    since = now - window

    def totals(by: str) -> list[RequestTotals]:
        return request_totals(
            session=session, since=since, until=now, by=by, tenant=tenant, workload_id=workload_id
        )

    per_region_of: dict[str, list[RegionPerformance]] = {}
    for t in totals("workload_region"):
        _, wid, _, region = t.key
        entry = RegionPerformance(region=region, stats=stats_of(t))
        per_region_of.setdefault(wid, []).append(entry)
    workloads = [
        WorkloadPerformance(
            tenant=t.key[0],
            workload_id=t.key[1],
            workload=t.key[2],
            stats=stats_of(t),
            regions=per_region_of.get(t.key[1], []),
        )
        for t in totals("workload")
    ]
    regions = [RegionPerformance(region=t.key[0], stats=stats_of(t)) for t in totals("region")]
    return PerformanceReport(
        since=since,
        until=now,
        window_seconds=window.total_seconds(),
        interpolation=INTERPOLATION,
        bounds_ms=list(BOUNDS_MS),
        workloads=workloads,
        regions=regions,
    )
