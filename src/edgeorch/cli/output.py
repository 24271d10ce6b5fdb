"""Rendering for the CLI: rich tables with short ids and coloured status words, or JSON/YAML."""

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

STATUS_STYLE = {
    "ready": "green",
    "running": "green",
    "pending": "yellow",
    "starting": "yellow",
    "suspect": "yellow",
    "cordoned": "yellow",
    "draining": "yellow",
    "down": "red",
    "failed": "red",
    "lost": "red",
}


class OutputFormat(StrEnum):
    """``-o`` choices."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def short_id(value: str | None) -> str:
    """The first 8 characters of an id; the API accepts any unambiguous prefix of 6 or more."""
    return (value or "")[:8]


def status_word(word: str) -> str:
    """``word`` styled by its meaning."""
    style = STATUS_STYLE.get(word, "")
    return f"[{style}]{word}[/]" if style else word


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """A compact age like kubectl's: 45s, 12m, 3h, 5d."""
    if not timestamp:
        return "-"
    then = datetime.fromisoformat(timestamp)
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def emit_data(data: Any, fmt: OutputFormat) -> None:
    """Print ``data`` as JSON or YAML to stdout."""
    if fmt is OutputFormat.JSON:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))


def emit_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, Callable[[dict[str, Any]], str]]],
    *,
    empty: str,
) -> None:
    """Print a table with one row per item; ``empty`` when there are none."""
    if not rows:
        err_console.print(empty)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for header, _ in columns:
        table.add_column(header)
    for row in rows:
        table.add_row(*(render(row) for _, render in columns))
    console.print(table)


def emit_list(
    data: dict[str, Any],
    output: OutputFormat,
    columns: Sequence[tuple[str, Callable[[dict[str, Any]], str]]],
    *,
    empty: str,
) -> None:
    """A list answer as JSON/YAML (the whole list object) or as a table of its items."""
    if output is OutputFormat.TABLE:
        emit_table(data["items"], columns, empty=empty)
    else:
        emit_data(data, output)


def emit_error(message: str, errors: Sequence[dict[str, Any]] = ()) -> None:
    """Print an error and its per-field entries to stderr."""
    err_console.print(f"[red]error:[/] {message}", highlight=False)
    for entry in errors:
        line = f"  {entry.get('field', '?')}: {entry.get('message', '')}"
        if "value" in entry:
            line += f" (got {json.dumps(entry['value'])})"
        if entry.get("accepted"):
            line += f"; accepted: {entry['accepted']}"
        err_console.print(line, highlight=False, markup=False)
