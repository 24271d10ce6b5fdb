"""Group commit on SQLite (``store/database.py``): writers queued behind one another share a
transaction and one fsync, yet each write is acknowledged only after that commit, keeps its own
revision, and fails alone when its own body fails."""

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event

from edgeorch.schemas.node import NodeCreate
from edgeorch.store import (
    AlreadyExists,
    Database,
    NotFound,
    create_node,
    current_revision,
    default_sqlite_url,
    list_changes,
    read_node,
)
from edgeorch.store.database import WriteNotCommitted


def _node(name: str) -> NodeCreate:
    return NodeCreate.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "edge_type": "cdn",
                "region": "r",
                "location": {"latitude": 0, "longitude": 0},
                "country": "FR",
                "capacity": {"cpu": 1},
            },
        }
    )


def _exists(db: Database, name: str) -> bool:
    try:
        with db.session() as s:
            read_node(session=s, ref=name)
    except NotFound:
        return False
    return True


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Writer(threading.Thread):
    """Runs ``body`` inside ``db.write()``; records the outcome and when ``write()`` returned."""

    def __init__(self, db: Database, body: Callable[..., None]) -> None:
        super().__init__(daemon=True)
        self.db, self.body = db, body
        self.error: BaseException | None = None
        self.returned = threading.Event()

    def run(self) -> None:
        try:
            with self.db.write() as session:
                self.body(session)
        except BaseException as exc:  # asserted by the tests
            self.error = exc
        finally:
            self.returned.set()


def _commits(db: Database) -> list[str]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith(("COMMIT", "SAVEPOINT", "BEGIN")):
            seen.append(statement.split()[0])

    event.listen(db.engine, "before_cursor_execute", record)
    # pysqlite commits through connection.commit(), not a statement: count those too.
    event.listen(db.engine, "commit", lambda conn: seen.append("COMMIT"))
    return seen


def test_queued_writers_share_one_commit_and_are_acknowledged_only_after_it(
    sqlite_db: Database,
) -> None:
    with sqlite_db.session() as s:
        start = current_revision(session=s)
    seen = _commits(sqlite_db)
    release = threading.Event()
    first = Writer(
        sqlite_db,
        lambda s: (create_node(session=s, node=_node("first")), release.wait(10)),
    )
    first.start()
    _wait_for(lambda: sqlite_db._group is not None and sqlite_db._group.size == 0, "first")
    second = Writer(sqlite_db, lambda s: create_node(session=s, node=_node("second")))
    third = Writer(sqlite_db, lambda s: create_node(session=s, node=_node("third")))
    second.start()
    third.start()
    _wait_for(lambda: sqlite_db._queued == 2, "two writers queued")
    release.set()
    for writer in (first, second, third):
        assert writer.returned.wait(10)
        assert writer.error is None
    assert seen.count("BEGIN") == 1 and seen.count("COMMIT") == 1
    assert seen.count("SAVEPOINT") == 3
    with sqlite_db.session() as s:
        changes = list_changes(session=s, since=start)
    assert sorted(c.name for c in changes) == ["first", "second", "third"]
    assert [c.revision for c in changes] == [start + 1, start + 2, start + 3]


def test_a_member_waits_for_the_commit_of_the_writers_behind_it(sqlite_db: Database) -> None:
    behind = threading.Event()
    first = Writer(sqlite_db, lambda s: create_node(session=s, node=_node("early")))
    blocker_started = threading.Event()

    def slow(s: object) -> None:
        blocker_started.set()
        behind.wait(10)
        create_node(session=s, node=_node("late"))  # type: ignore[arg-type]

    with sqlite_db._queued_lock:
        sqlite_db._queued += 1  # pretend a writer queues, so "early" leaves the group open
    first.start()
    _wait_for(lambda: sqlite_db._group is not None and sqlite_db._group.size == 1, "early")
    with sqlite_db._queued_lock:
        sqlite_db._queued -= 1
    second = Writer(sqlite_db, slow)
    second.start()
    assert blocker_started.wait(10)
    time.sleep(0.05)
    # "early" is written but not committed: not acknowledged, not visible to readers.
    assert not first.returned.is_set()
    assert not _exists(sqlite_db, "early")
    behind.set()
    assert first.returned.wait(10) and second.returned.wait(10)
    assert first.error is None and second.error is None
    assert _exists(sqlite_db, "early") and _exists(sqlite_db, "late")


def test_a_failing_member_rolls_back_alone(sqlite_db: Database) -> None:
    with sqlite_db.write() as s:
        create_node(session=s, node=_node("taken"))
    with sqlite_db.session() as s:
        start = current_revision(session=s)
    release = threading.Event()
    first = Writer(sqlite_db, lambda s: (create_node(session=s, node=_node("a")), release.wait(10)))
    first.start()
    _wait_for(lambda: sqlite_db._group is not None, "first")
    bad = Writer(sqlite_db, lambda s: create_node(session=s, node=_node("taken")))
    good = Writer(sqlite_db, lambda s: create_node(session=s, node=_node("c")))
    bad.start()
    good.start()
    _wait_for(lambda: sqlite_db._queued == 2, "two writers queued")
    release.set()
    for writer in (first, bad, good):
        assert writer.returned.wait(10)
    assert isinstance(bad.error, AlreadyExists)
    assert first.error is None and good.error is None
    assert _exists(sqlite_db, "a") and _exists(sqlite_db, "c")
    with sqlite_db.session() as s:
        revisions = [c.revision for c in list_changes(session=s, since=start)]
    assert revisions == [start + 1, start + 2]  # the failed write's revision was undone too


def test_a_lost_transaction_fails_every_member_and_commits_nothing(sqlite_db: Database) -> None:
    release = threading.Event()
    first = Writer(
        sqlite_db, lambda s: (create_node(session=s, node=_node("x1")), release.wait(10))
    )
    first.start()
    _wait_for(lambda: sqlite_db._group is not None, "first")

    def breaks(s: object) -> None:
        create_node(session=s, node=_node("x2"))  # type: ignore[arg-type]
        # What SQLite does on some I/O errors: the whole transaction is rolled back.
        s.connection().exec_driver_sql("ROLLBACK")  # type: ignore[attr-defined]

    second = Writer(sqlite_db, breaks)
    second.start()
    _wait_for(lambda: sqlite_db._queued == 1, "second queued")
    release.set()
    assert first.returned.wait(10) and second.returned.wait(10)
    assert isinstance(first.error, WriteNotCommitted)
    assert second.error is not None
    assert not _exists(sqlite_db, "x1") and not _exists(sqlite_db, "x2")
    with sqlite_db.write() as s:  # the store writes normally afterwards
        create_node(session=s, node=_node("x3"))
    assert _exists(sqlite_db, "x3")


def test_commit_callbacks_run_after_the_group_is_visible(sqlite_db: Database) -> None:
    visible: list[bool] = []
    stop = sqlite_db.on_commit(lambda: visible.append(_exists(sqlite_db, "seen")))
    with sqlite_db.write() as s:
        create_node(session=s, node=_node("seen"))
    stop()
    with sqlite_db.write() as s:
        create_node(session=s, node=_node("unseen"))
    assert visible == [True]


@pytest.mark.parametrize("writers", [4])
def test_concurrent_writers_commit_in_fewer_transactions(tmp_path: Path, writers: int) -> None:
    db = Database(default_sqlite_url(tmp_path))
    db.migrate()
    seen = _commits(db)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(20):
                with db.write() as s:
                    create_node(session=s, node=_node(f"g{worker}-{i}"))
                    time.sleep(0.002)  # long enough for the others to queue
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert seen.count("SAVEPOINT") == writers * 20
    assert seen.count("COMMIT") < writers * 20
    with db.session() as s:
        assert len(list_changes(session=s, since=0, kinds=["Node"])) == writers * 20
    db.dispose()
