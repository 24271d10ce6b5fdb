"""``POST /analytics/reports``: the analytics sections in one document, as JSON, CSV or HTML.

- **JSON**: ``{"generated_at", "window_seconds", "sections": {name: section}}``, each section the
  body its own endpoint answers (``alerts``: the alerts firing now and those resolved in the
  window); a predictions section for regions with too little history says so in ``skipped``.
- **CSV**: one long table, ``section,group,subject,metric,value``, one row per number, so any
  spreadsheet can pivot it.
- **HTML**: one self-contained page (inline CSS, no scripts, no external resources); every value
  goes through ``html.escape``.
"""

import csv
import html
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from edgeorch.alerts.model import to_alert
from edgeorch.analytics.costs import costs
from edgeorch.analytics.performance import performance
from edgeorch.analytics.predictions import InsufficientHistory, predictions
from edgeorch.store.sql.alerts import list_alerts

SECTIONS = ("performance", "costs", "predictions", "alerts")
Section = Literal["performance", "costs", "predictions", "alerts"]
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "html": "text/html"}


def _all_sections() -> list[Section]:
    return ["performance", "costs", "predictions", "alerts"]


class ReportRequest(BaseModel):
    """Body of ``POST /analytics/reports``."""

    model_config = {"extra": "forbid"}

    format: Literal["json", "csv", "html"] = "json"
    sections: list[Section] = Field(default_factory=_all_sections, min_length=1)
    window: str = "1h"
    horizon: int = Field(default=60, ge=1, le=10_000)


def build(
    *,
    session: Session,
    now: datetime,
    window: timedelta,
    tenant: str | None,
    request: ReportRequest,
) -> dict[str, Any]:
    """The report document (the JSON form)."""
    sections: dict[str, Any] = {}
    for name in dict.fromkeys(request.sections):
        if name == "performance":
            report = performance(session=session, now=now, window=window, tenant=tenant)
            sections[name] = report.model_dump(mode="json")
        elif name == "costs":
            sections[name] = costs(
                session=session, now=now, window=window, tenant=tenant
            ).model_dump(mode="json")
        elif name == "predictions":
            sections[name] = _predictions(session, now, request.horizon)
        else:
            sections[name] = _alerts(session, now, window, tenant)
    return {
        "generated_at": now.isoformat(),
        "window_seconds": window.total_seconds(),
        "sections": sections,
    }


def _predictions(session: Session, now: datetime, horizon: int) -> dict[str, Any]:
    try:
        report = predictions(session=session, now=now, history=timedelta(days=1), horizon=horizon)
    except InsufficientHistory as exc:
        return {"regions": [], "skipped": str(exc)}
    return {**report.model_dump(mode="json"), "skipped": None}


def _alerts(session: Session, now: datetime, window: timedelta, tenant: str | None) -> Any:
    firing = list_alerts(session=session, tenant=tenant, state="firing", limit=1000).items
    resolved = [
        a
        for a in list_alerts(session=session, tenant=tenant, state="resolved", limit=1000).items
        if a.resolved_at is not None and a.resolved_at >= now - window
    ]
    return {
        "firing": [to_alert(a).model_dump(mode="json") for a in firing],
        "resolved": [to_alert(a).model_dump(mode="json") for a in resolved],
    }


Row = tuple[str, str, str, str, Any]


def rows(document: dict[str, Any]) -> Iterator[Row]:
    """The report as ``(section, group, subject, metric, value)`` rows."""
    sections = document["sections"]
    for group in ("workloads", "regions"):
        for item in sections.get("performance", {}).get(group, []):
            subject = item.get("workload") or item.get("region")
            for metric, value in item["stats"].items():
                yield ("performance", group, subject, metric, value)
    cost = sections.get("costs")
    if cost is not None:
        for group in ("workloads", "tenants", "regions"):
            for item in cost[group]:
                for metric in ("instances", "cost_per_hour", "cost"):
                    yield ("costs", group, item["name"], metric, item[metric])
        for metric in ("cost_per_hour", "cost"):
            yield ("costs", "total", "all", metric, cost["total"][metric])
    for item in sections.get("predictions", {}).get("regions", []):
        for metric in ("last_value", "trend_per_step", "alpha", "beta", "threshold_eta"):
            yield ("predictions", "regions", item["region"], metric, item[metric])
        for metric, value in item["error"].items():
            yield ("predictions", "regions", item["region"], f"error_{metric}", value)
        if item["forecast"]:
            last = item["forecast"][-1]
            yield ("predictions", "regions", item["region"], "forecast_last", last["value"])
    for state in ("firing", "resolved"):
        for alert in sections.get("alerts", {}).get(state, []):
            subject = f"{alert['subject']['kind']}/{alert['subject']['name']}"
            yield ("alerts", state, subject, alert["rule"], alert["value"])


def to_csv(document: dict[str, Any]) -> str:
    """The CSV form."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "group", "subject", "metric", "value"))
    for row in rows(document):
        writer.writerow("" if v is None else v for v in row)
    return out.getvalue()


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1.5rem}"
    "th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}"
    "th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
)


def to_html(document: dict[str, Any]) -> str:
    """The HTML form: self-contained, every value escaped."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>edgeorch analytics report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>edgeorch analytics report</h1>",
        f"<p>Generated {e(str(document['generated_at']))}, window "
        f"{e(str(document['window_seconds']))} s.</p>",
    ]
    by_section: dict[str, list[Row]] = {}
    for row in rows(document):
        by_section.setdefault(row[0], []).append(row)
    for name in document["sections"]:
        parts.append(f"<h2>{e(name)}</h2>")
        skipped = document["sections"][name].get("skipped")
        if skipped:
            parts.append(f"<p>{e(str(skipped))}</p>")
        items = by_section.get(name, [])
        if not items:
            parts.append("<p>No data in this window.</p>")
            continue
        parts.append("<table><tr><th>group</th><th>subject</th><th>metric</th><th>value</th></tr>")
        for _, group, subject, metric, value in items:
            shown = "" if value is None else str(value)
            parts.append(
                f"<tr><td>{e(group)}</td><td>{e(str(subject))}</td><td>{e(metric)}</td>"
                f'<td class="n">{e(shown)}</td></tr>'
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
