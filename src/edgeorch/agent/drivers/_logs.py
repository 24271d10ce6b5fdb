"""Reading the tail of a task's log files without loading whole files.

Log files grow without bound while a task runs, so tails are read backwards in blocks.
"""

from __future__ import annotations

import os
from pathlib import Path

_BLOCK = 64 * 1024


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path`` (decoded leniently); empty if it does not exist."""
    if count <= 0:
        return []
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            data = b""
            # Read one block more than needed so the first kept line is complete.
            while end > 0 and data.count(b"\n") <= count:
                start = max(0, end - _BLOCK)
                f.seek(start)
                data = f.read(end - start) + data
                end = start
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]


def tail_streams(task_dir: Path, count: int) -> list[str]:
    """The last ``count`` lines of the task's stdout then stderr, each tagged with its stream.

    The two streams are separate files, so their relative order is unknown; stdout comes first.
    """
    lines = [f"stdout: {line}" for line in tail_lines(task_dir / "stdout.log", count)]
    lines += [f"stderr: {line}" for line in tail_lines(task_dir / "stderr.log", count)]
    return lines[-count:] if count > 0 else []
