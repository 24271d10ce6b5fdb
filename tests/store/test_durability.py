"""Crash durability: every write acknowledged before a SIGKILL is there after reopening."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from edgeorch.store import Database, default_sqlite_url, read_node

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from edgeorch.schemas import NodeCreate
    from edgeorch.store import Database, create_node, default_sqlite_url

    db = Database(default_sqlite_url(Path(sys.argv[1])))
    db.migrate()
    for i in range(100_000):
        body = NodeCreate.model_validate({
            "metadata": {"name": f"n-{i}"},
            "spec": {"edge_type": "iot", "region": "r", "country": "JP",
                     "location": {"latitude": 35.7, "longitude": 139.7},
                     "capacity": {"cpu": 1}},
        })
        with db.write() as session:
            node_id = create_node(session=session, node=body).metadata.id
        # Printed only after the commit returned: this is the acknowledgement.
        print(node_id, flush=True)
    """
)


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    acknowledged: list[str] = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    # Whatever was printed before the kill landed is acknowledged too.
    acknowledged += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 40

    db = Database(default_sqlite_url(tmp_path))
    with db.session() as session:
        for node_id in acknowledged:
            assert read_node(session=session, ref=node_id).metadata.id == node_id
    db.dispose()
