"""Run Debian's ``promtool`` on exposition text and rule files; a missing promtool fails."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def promtool() -> str:
    """The promtool binary; fails (never skips) when it is not installed."""
    found = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
    )
    if found is None:
        pytest.fail(
            "promtool is not installed: these tests validate the metrics with it; install "
            "Debian's 'prometheus' package (scripts/services.sh does) or put promtool on PATH"
        )
    return found


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS`` with ``stdin``; the output is text."""
    return subprocess.run(
        [promtool(), *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def check_metrics(exposition: bytes) -> None:
    """Fail on any error or lint problem ``promtool check metrics`` reports."""
    answer = run("check", "metrics", stdin=exposition)
    problems = (answer.stdout + answer.stderr).strip()
    assert answer.returncode == 0 and not problems, f"promtool check metrics:\n{problems}"
