"""Holt's linear trend method (double exponential smoothing), fit by least squares.

Model, for a series ``y[0..n-1]`` at a regular step::

    level[t] = alpha * y[t] + (1 - alpha) * (level[t-1] + trend[t-1])
    trend[t] = beta * (level[t] - level[t-1]) + (1 - beta) * trend[t-1]
    forecast[t + h | t] = level[t] + h * trend[t]

with ``level[0] = y[0]`` and ``trend[0] = y[1] - y[0]``. ``alpha`` and ``beta`` minimise the sum
of squared one-step-ahead errors over the series; the search runs every pair of a 0.05 grid at
once (one NumPy recursion over all pairs), then a 0.01 grid around the best pair.

:func:`evaluate` holds back the last part of the history: it fits on the rest, forecasts the
held-back points from the end of the training part (1 to k steps ahead, as the forecast will be
used), and reports MAE, RMSE and MAPE next to those of the naive last-value forecast.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
METHOD = "holt-linear"
METHOD_DESCRIPTION = (
    "Holt's linear trend (double exponential smoothing); alpha and beta fit by least squares "
    "on one-step-ahead errors of the training part"
)


@dataclass(frozen=True)
class HoltFit:
    """A fitted model: its parameters, final level and trend, and the training SSE."""

    alpha: float
    beta: float
    level: float
    trend: float
    sse: float

    def forecast(self, steps: int) -> FloatArray:
        """Forecasts 1..``steps`` steps after the last observation."""
        out: FloatArray = self.level + self.trend * np.arange(1, steps + 1, dtype=np.float64)
        return out


@dataclass(frozen=True)
class Errors:
    """Forecast errors on held-back points; ``mape`` is None when an actual value is 0."""

    mae: float
    rmse: float
    mape: float | None


@dataclass(frozen=True)
class Evaluation:
    """Holt against the naive forecast on the held-back part."""

    train_points: int
    test_points: int
    holt: Errors
    naive: Errors
    fit: HoltFit


def _run(y: FloatArray, alpha: FloatArray, beta: FloatArray) -> tuple[FloatArray, ...]:
    """Run the recursion for every (alpha, beta) pair at once; returns SSE, level, trend."""
    level = np.full(alpha.shape, y[0])
    trend = np.full(alpha.shape, y[1] - y[0])
    sse = np.zeros(alpha.shape)
    for value in y[1:]:
        predicted = level + trend
        sse += (value - predicted) ** 2
        new_level = alpha * value + (1.0 - alpha) * predicted
        trend = beta * (new_level - level) + (1.0 - beta) * trend
        level = new_level
    return sse, level, trend


def fit_holt(y: FloatArray) -> HoltFit:
    """Least-squares Holt fit of ``y`` (at least 3 points)."""
    if len(y) < 3:
        raise ValueError(f"Holt's method needs at least 3 points, got {len(y)}")
    grid = np.round(np.arange(0.05, 1.0001, 0.05), 4)
    a, b = np.meshgrid(grid, np.concatenate([[0.0], grid]))
    sse, _, _ = _run(y, a.ravel(), b.ravel())
    best = int(np.argmin(sse))
    a0, b0 = float(a.ravel()[best]), float(b.ravel()[best])
    fine_a = np.clip(np.arange(a0 - 0.04, a0 + 0.0401, 0.01), 0.01, 1.0)
    fine_b = np.clip(np.arange(b0 - 0.04, b0 + 0.0401, 0.01), 0.0, 1.0)
    a, b = np.meshgrid(fine_a, fine_b)
    sse, level, trend = _run(y, a.ravel(), b.ravel())
    best = int(np.argmin(sse))
    return HoltFit(
        alpha=round(float(a.ravel()[best]), 4),
        beta=round(float(b.ravel()[best]), 4),
        level=float(level[best]),
        trend=float(trend[best]),
        sse=float(sse[best]),
    )


def errors(actual: FloatArray, predicted: FloatArray) -> Errors:
    """MAE, RMSE and MAPE (percent) of ``predicted`` against ``actual``."""
    diff = actual - predicted
    mape = None
    if np.all(actual != 0):
        mape = float(np.mean(np.abs(diff / actual)) * 100.0)
    return Errors(
        mae=float(np.mean(np.abs(diff))), rmse=float(np.sqrt(np.mean(diff**2))), mape=mape
    )


def evaluate(y: FloatArray, holdout: float = 0.2, min_test: int = 5) -> Evaluation:
    """Fit on the first part of ``y``, score on the held-back last ``holdout`` share."""
    test = max(min_test, round(len(y) * holdout))
    train = len(y) - test
    if train < 3:
        raise ValueError(f"{len(y)} points leave {train} to train on; need at least 3")
    fit = fit_holt(y[:train])
    actual = y[train:]
    naive = np.full(test, y[train - 1])
    return Evaluation(
        train_points=train,
        test_points=test,
        holt=errors(actual, fit.forecast(test)),
        naive=errors(actual, naive),
        fit=fit,
    )
