"""``GET /analytics/predictions``: each region's capacity use, forecast from its history.

The history is ``node_usage`` (one row per node per interval, one minute by default). A region's
use at an interval is the capacity-weighted mean of its nodes' utilization then::

    use[t] = sum_i(util_i[t] * capacity_i) / sum_i(capacity_i)      (CPU: vCPU; memory: MB)

over the nodes that reported in that interval. Intervals where no node reported are filled with
the previous value, so the series has a regular step. The forecast is Holt's linear trend
(``analytics/forecast.py``), ``horizon`` steps ahead, clipped to [0, 1]; its error is measured
on the held-back last 20 % of the history (at least 5 points) against the naive last-value
forecast. A region with fewer than ``MIN_POINTS`` intervals is refused by name.
"""

from datetime import datetime, timedelta

import numpy as np
from pydantic import BaseModel
from sqlalchemy.orm import Session

from edgeorch.analytics.forecast import (
    METHOD,
    METHOD_DESCRIPTION,
    Errors,
    FloatArray,
    evaluate,
    fit_holt,
)
from edgeorch.store.sql.telemetry import NodeUsage, read_node_usage

MIN_POINTS = 20
RESOURCES = ("cpu", "memory")


class InsufficientHistory(ValueError):
    """Too little recorded history to forecast (or to judge a forecast) for some regions."""

    def __init__(self, missing: dict[str, int], needed: int, step_seconds: int) -> None:
        self.missing = missing
        self.needed = needed
        self.step_seconds = step_seconds
        found = ", ".join(f"{region}: {n}" for region, n in sorted(missing.items())) or "none"
        super().__init__(
            f"forecasting needs at least {needed} recorded intervals of {step_seconds} s per "
            f"region; found {found}. Let the agents report longer, or widen 'history'"
        )


class ErrorReport(BaseModel):
    """Forecast error on held-back history (``mape`` in percent, None when an actual is 0)."""

    mae: float
    rmse: float
    mape: float | None


class ForecastPoint(BaseModel):
    """Forecast use (a fraction of capacity) at ``time``."""

    time: datetime
    value: float


class RegionForecast(BaseModel):
    """One region's history summary, forecast and the forecast's measured error."""

    region: str
    resource: str
    points: int
    last_time: datetime
    last_value: float
    alpha: float
    beta: float
    trend_per_step: float
    forecast: list[ForecastPoint]
    train_points: int
    test_points: int
    error: ErrorReport
    naive_error: ErrorReport
    threshold: float
    threshold_eta: datetime | None


class PredictionReport(BaseModel):
    """Body of ``GET /analytics/predictions``."""

    method: str
    method_description: str
    resource: str
    step_seconds: int
    horizon_steps: int
    since: datetime
    until: datetime
    regions: list[RegionForecast]


def region_series(
    usage: list[NodeUsage], resource: str
) -> dict[str, tuple[list[datetime], FloatArray, int]]:
    """Per region: interval start times, capacity-weighted use, and the step in seconds."""
    sums: dict[str, dict[datetime, list[float]]] = {}
    steps: dict[str, int] = {}
    for row in usage:
        weight = row.cpu_capacity if resource == "cpu" else float(row.memory_mb_capacity)
        value = row.cpu if resource == "cpu" else row.memory
        acc = sums.setdefault(row.region, {}).setdefault(row.time, [0.0, 0.0])
        acc[0] += value * weight
        acc[1] += weight
        steps[row.region] = row.seconds
    out = {}
    for region, by_time in sums.items():
        step = steps[region]
        times, values = _regular(by_time, step)
        out[region] = (times, values, step)
    return out


def _regular(by_time: dict[datetime, list[float]], step: int) -> tuple[list[datetime], FloatArray]:
    first, last = min(by_time), max(by_time)
    count = int((last - first).total_seconds() // step) + 1
    times = [first + timedelta(seconds=step * i) for i in range(count)]
    values = np.empty(count)
    previous = 0.0
    for i, t in enumerate(times):
        acc = by_time.get(t)
        if acc is not None and acc[1] > 0:
            previous = acc[0] / acc[1]
        values[i] = previous
    return times, values


def predictions(
    *,
    session: Session,
    now: datetime,
    history: timedelta,
    horizon: int,
    resource: str = "cpu",
    region: str | None = None,
    threshold: float = 0.85,
) -> PredictionReport:
    """Forecast every region (or ``region``) ``horizon`` steps ahead; refuses regions with too
    little history by raising :class:`InsufficientHistory`."""
    since = now - history
    usage = read_node_usage(session=session, since=since, until=now, region=region)
    series = region_series(usage, resource)
    if region is not None and region not in series:
        series[region] = ([], np.empty(0), 0)
    short = {r: len(v) for r, (_, v, _) in series.items() if len(v) < MIN_POINTS}
    if short or not series:
        step = max((s for _, _, s in series.values()), default=60) or 60
        raise InsufficientHistory(short, MIN_POINTS, step)
    regions = [
        _forecast(name, times, values, step, horizon, resource, threshold)
        for name, (times, values, step) in sorted(series.items())
    ]
    return PredictionReport(
        method=METHOD,
        method_description=METHOD_DESCRIPTION,
        resource=resource,
        step_seconds=max(step for _, _, step in series.values()),
        horizon_steps=horizon,
        since=since,
        until=now,
        regions=regions,
    )


def _forecast(
    region: str,
    times: list[datetime],
    values: FloatArray,
    step: int,
    horizon: int,
    resource: str,
    threshold: float,
) -> RegionForecast:
    scored = evaluate(values)
    fit = fit_holt(values)
    ahead = np.clip(fit.forecast(horizon), 0.0, 1.0)
    future = [times[-1] + timedelta(seconds=step * (i + 1)) for i in range(horizon)]
    crossing = next((t for t, v in zip(future, ahead, strict=True) if v >= threshold), None)
    if values[-1] >= threshold:
        crossing = times[-1]
    return RegionForecast(
        region=region,
        resource=resource,
        points=len(values),
        last_time=times[-1],
        last_value=round(float(values[-1]), 6),
        alpha=fit.alpha,
        beta=fit.beta,
        trend_per_step=round(fit.trend, 8),
        forecast=[
            ForecastPoint(time=t, value=round(float(v), 6))
            for t, v in zip(future, ahead, strict=True)
        ],
        train_points=scored.train_points,
        test_points=scored.test_points,
        error=_report(scored.holt),
        naive_error=_report(scored.naive),
        threshold=threshold,
        threshold_eta=crossing,
    )


def _report(e: Errors) -> ErrorReport:
    return ErrorReport(
        mae=round(e.mae, 6),
        rmse=round(e.rmse, 6),
        mape=None if e.mape is None else round(e.mape, 4),
    )
