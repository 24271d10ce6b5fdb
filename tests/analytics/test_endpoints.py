"""The analytics endpoints over real recorded rows, on SQLite and PostgreSQL."""

import csv
import io
from datetime import timedelta

import numpy as np
import pytest
from tests.analytics import seed
from tests.api.conftest import Api, api
from tests.conftest import FakeClock

from edgeorch.schemas.node import Utilization

__all__ = ["api"]


def test_performance_percentiles_per_workload_and_region(api: Api, clock: FakeClock) -> None:
    db = api.database
    paris = seed.node(db, "paris-1", region="eu-west")
    nyc = seed.node(db, "nyc-1", region="us-east", city="nyc")
    w = seed.workload(db, "web")
    i1, i2 = seed.instance(db, w, paris, 0), seed.instance(db, w, nyc, 1)
    seed.requests(db, i1, paris, clock.now - timedelta(minutes=5), seed.histogram(b7=100), 2, "web")
    seed.requests(db, i2, nyc, clock.now - timedelta(minutes=5), seed.histogram(b3=100), 0, "web")
    seed.requests(db, i2, nyc, clock.now - timedelta(hours=3), seed.histogram(b12=500), 0, "web")

    body = api.client.get("/api/v1/analytics/performance", params={"window": "1h"}).json()
    [web] = body["workloads"]
    assert web["workload"] == "web" and web["stats"]["requests"] == 200  # the 3 h old row is out
    assert web["stats"]["p50_ms"] == pytest.approx(10.0)  # rank 100 ends bucket (5, 10]
    assert web["stats"]["p95_ms"] == pytest.approx(75 + 25 * 0.9)  # rank 190 of (75, 100]
    assert web["stats"]["error_rate"] == pytest.approx(0.01)
    regions = {r["region"]: r["stats"]["p50_ms"] for r in web["regions"]}
    assert regions == {"eu-west": pytest.approx(87.5), "us-east": pytest.approx(7.5)}
    assert [r["region"] for r in body["regions"]] == ["eu-west", "us-east"]
    one = api.client.get(
        "/api/v1/analytics/performance", params={"workload": "web", "window": "6h"}
    )
    assert one.json()["workloads"][0]["stats"]["requests"] == 700


@pytest.mark.parametrize("window", ["1 hour", "0s", "40d", "h"])
def test_bad_window_is_a_problem_naming_it(api: Api, window: str) -> None:
    answer = api.client.get("/api/v1/analytics/performance", params={"window": window})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert repr(window) in answer.json()["detail"] and "15m" in answer.json()["detail"]


def test_costs_from_node_prices_and_dominant_shares(api: Api, clock: FakeClock) -> None:
    db = api.database
    n = seed.node(db, "paris-1", cpu=8, memory_mb=16384, cost=2.0)
    cpu_heavy = seed.workload(db, "cpu", resources={"cpu": 4, "memory_mb": 1024})
    mem_heavy = seed.workload(db, "mem", resources={"cpu": 1, "memory_mb": 4096})
    seed.instance(db, cpu_heavy, n)
    seed.instance(db, mem_heavy, n)
    clock.advance(timedelta(minutes=30))
    body = api.client.get("/api/v1/analytics/costs", params={"window": "1h"}).json()
    by = {w["name"]: w for w in body["workloads"]}
    assert by["default/cpu"]["cost_per_hour"] == pytest.approx(2.0 * 0.5)  # half the CPUs
    assert by["default/mem"]["cost_per_hour"] == pytest.approx(2.0 * 0.25)  # a quarter of memory
    assert by["default/cpu"]["cost"] == pytest.approx(0.5)  # bound 30 min of the hour
    assert body["total"]["cost"] == pytest.approx(0.75)
    assert body["regions"] == [
        {"name": "eu-west", "instances": 2, "cost_per_hour": 1.5, "cost": 0.75}
    ]
    assert body["currency"] == "USD" and "max(cpu" in body["share_basis"]


def trend_with_noise(n: int = 240, seed_: int = 7) -> list[float]:
    rng = np.random.default_rng(seed_)
    t = np.arange(n)
    return list(np.clip(0.30 + 0.0015 * t + rng.normal(0, 0.015, n), 0, 1))


def test_predictions_beat_the_naive_forecast_on_held_back_history(
    api: Api, clock: FakeClock
) -> None:
    db = api.database
    n = seed.node(db, "paris-1")
    values = trend_with_noise()
    seed.usage_series(db, n, clock.now - timedelta(minutes=len(values)), values)
    params = {"horizon": 30, "threshold": 0.7}
    answer = api.client.get("/api/v1/analytics/predictions", params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [region] = body["regions"]
    assert body["method"] == "holt-linear" and body["step_seconds"] == 60
    assert region["test_points"] == 48 and region["train_points"] == 192
    assert region["error"]["mae"] < region["naive_error"]["mae"]
    assert region["error"]["rmse"] < region["naive_error"]["rmse"]
    assert region["trend_per_step"] > 0
    assert len(region["forecast"]) == 30
    assert region["forecast"][-1]["value"] > values[-1] - 0.05
    # Last ~0.66, rising ~0.0015 a minute: 0.7 is crossed within the 30 minutes forecast.
    assert region["threshold_eta"] is not None
    assert region["threshold_eta"] > region["last_time"]


def test_predictions_refuse_too_little_history_naming_the_region(
    api: Api, clock: FakeClock
) -> None:
    db = api.database
    n = seed.node(db, "paris-1")
    seed.usage_series(db, n, clock.now - timedelta(minutes=10), [0.5] * 10)
    answer = api.client.get("/api/v1/analytics/predictions")
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("insufficient-history")
    assert "eu-west: 10" in problem["detail"] and "20" in problem["detail"]
    assert problem["errors"][0]["field"] == "region.eu-west"


@pytest.mark.parametrize(
    ("fmt", "media"), [("json", "application/json"), ("csv", "text/csv"), ("html", "text/html")]
)
def test_reports_in_three_formats(api: Api, clock: FakeClock, fmt: str, media: str) -> None:
    db = api.database
    n = seed.node(db, "paris-1", utilization=Utilization(cpu=0.2))
    w = seed.workload(db, "web")
    i = seed.instance(db, w, n)
    # The workload name in samples is what an agent reported: it must be escaped like any text.
    hostile = "<script>alert(1)</script>web"
    seed.requests(db, i, n, clock.now - timedelta(minutes=1), seed.histogram(b3=10), 0, hostile)
    body = {"format": fmt, "sections": ["performance", "costs", "predictions"], "window": "1h"}
    answer = api.client.post("/api/v1/analytics/reports", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(media)
    text = answer.text
    if fmt == "json":
        doc = answer.json()
        assert set(doc["sections"]) == {"performance", "costs", "predictions"}
        assert doc["sections"]["predictions"]["skipped"]  # no history recorded yet
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["section", "group", "subject", "metric", "value"]
        assert ["performance", "workloads", hostile, "requests", "10"] in rows
    else:
        assert "<script>" not in text and "&lt;script&gt;" in text
        assert "http" not in text.lower().replace("http-equiv", "")  # no external resources


def test_report_refuses_unknown_sections(api: Api) -> None:
    answer = api.client.post("/api/v1/analytics/reports", json={"sections": ["gossip"]})
    assert answer.status_code == 422
