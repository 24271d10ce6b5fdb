"""deploy/: the alert rules pass promtool (check and unit tests), the scrape config is valid,
the Grafana dashboard is importable, and every metric they name is one we expose."""

import json
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.observability.promtool import DEPLOY, run

from edgeorch.agent.metrics import AgentMetrics
from edgeorch.api import create_app
from edgeorch.api.bootstrap import prepare_store
from edgeorch.config import ServerSettings
from edgeorch.observability.metrics import MIGRATION_DOWNTIME, MIGRATIONS
from edgeorch.store import Database, default_sqlite_url

DASHBOARD = DEPLOY / "grafana" / "edgeorch-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
METRIC = re.compile(r"\bedgeorch_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def sample_names(exposition: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
    return names


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name the server and an agent can expose (families print even when empty)."""
    tmp = tmp_path_factory.mktemp("deploy")
    database = Database(default_sqlite_url(tmp))
    database.migrate()
    settings = ServerSettings(data_dir=tmp / "data")
    admin = prepare_store(database, settings).admin_secret
    with TestClient(create_app(database, settings)) as client:
        server = client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).text
    database.dispose()
    agent = generate_latest(AgentMetrics(lambda: [], lambda: ("", "")).registry).decode()
    return sample_names(server) | sample_names(agent)


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in board["templating"]["list"] if "definition" in v]
    return exprs


def test_alert_rules_pass_promtool_check() -> None:
    answer = run("check", "rules", str(ALERTS))
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "SUCCESS" in answer.stdout and "WARNING" not in answer.stdout + answer.stderr


def test_alert_rules_unit_tests_pass() -> None:
    answer = run("test", "rules", str(DEPLOY / "prometheus" / "alerts.test.yml"))
    assert answer.returncode == 0, answer.stdout + answer.stderr
    unit_tests = (DEPLOY / "prometheus" / "alerts.test.yml").read_text()
    assert unit_tests.count("alertname:") >= 4


def test_scrape_config_is_valid(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret\n")
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert "/etc/prometheus/edgeorch-token" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/edgeorch-token", str(token))
    )
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text())
    answer = run("check", "config", str(tmp_path / "prometheus.yml"))
    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_dashboard_is_importable() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["schemaVersion"] >= 30 and board["uid"] and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])


def test_every_metric_in_dashboard_and_rules_is_exposed(exposed: set[str]) -> None:
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    rules = yaml.safe_load(ALERTS.read_text())
    used |= {n for g in rules["groups"] for r in g["rules"] for n in METRIC.findall(r["expr"])}
    missing = sorted(used - exposed)
    assert not missing, f"named in deploy/ but not exposed: {missing}"
    groups = [
        "edgeorch_nodes",
        "edgeorch_instances",
        "edgeorch_placement_decisions_total",
        "edgeorch_unplaceable_total",
        "edgeorch_heartbeat_lag_seconds_bucket",
        "edgeorch_migration_downtime_seconds_bucket",
        "edgeorch_node_utilization_ratio",
        "edgeorch_http_request_duration_seconds_bucket",
        "edgeorch_agent_instances",
    ]
    assert not [g for g in groups if g not in used], "a metric group has no panel or rule"


def test_migration_metrics_have_the_agreed_names() -> None:
    # Imported by the live-migration controller; renaming them breaks it.
    assert MIGRATIONS._name == "edgeorch_migrations" and MIGRATIONS._type == "counter"
    assert MIGRATIONS._labelnames == ("type", "result")
    assert MIGRATION_DOWNTIME._name == "edgeorch_migration_downtime_seconds"
    assert MIGRATION_DOWNTIME._labelnames == ("type",)
    assert MIGRATION_DOWNTIME._upper_bounds[0] == 0.001
    assert MIGRATION_DOWNTIME._upper_bounds[-2] == 10.0
