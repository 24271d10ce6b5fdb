"""The registration's fast write path (``store/sql/prepared.py``, ``store/database.py``): statements
run on the driver's cursor store exactly what Core's execution stores, on SQLite and PostgreSQL;
the group writer's connection is kept between groups and replaced after a failed one; statement
journals stay in memory."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from edgeorch.schemas.node import NodeCreate
from edgeorch.store import Database, create_node, current_revision, read_node
from edgeorch.store.sql.orm import ChangeRow, EventRow, NodeRow, RevisionRow
from edgeorch.store.sql.prepared import CONNECTION_KEY, Prepared

_NODES: Table = NodeRow.__table__  # type: ignore[assignment]
_EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
_REVISION: Table = RevisionRow.__table__  # type: ignore[assignment]
_CHANGES: Table = ChangeRow.__table__  # type: ignore[assignment]


def _node(name: str) -> NodeCreate:
    return NodeCreate.model_validate(
        {
            "metadata": {"name": name, "labels": {"rack": "r1", "tier": "edge"}},
            "spec": {
                "edge_type": "mec",
                "region": "eu-central",
                "location": {"latitude": 50.11, "longitude": 8.68},
                "country": "DE",
                "capacity": {"cpu": 16, "memory_mb": 65536},
                "cost_per_hour": 0.35,
            },
        }
    )


def _event_values(event_id: str, moment: datetime) -> dict[str, object]:
    return {
        "id": event_id,
        "tenant": "default",
        "revision": 7,
        "time": moment,
        "type": "Normal",
        "reason": "Tested",
        "message": "é ünïcode and 'quotes'",
        "involved_kind": "Node",
        "involved_id": "x" * 32,
        "involved_name": "n",
    }


# Whole seconds, microseconds, and a non-UTC offset: each is stored as Core stores it.
MOMENTS = [
    datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 22, 3, 0, 0, 123456, tzinfo=UTC),
    datetime.fromisoformat("2026-11-22T05:00:00.5+02:00"),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_prepared_insert_stores_what_core_stores(database: Database, moment: datetime) -> None:
    prepared = Prepared(insert(_EVENTS), keys=list(_event_values("a", moment)))
    with database.write() as session:
        session.connection().execute(insert(_EVENTS), _event_values("a" * 32, moment))
        prepared.run(session, _event_values("b" * 32, moment))
    with database.session() as session:
        raw = {
            row[0]: tuple(row[1:])
            for row in session.execute(
                text("SELECT id, CAST(time AS TEXT), message FROM events WHERE id IN (:a, :b)"),
                {"a": "a" * 32, "b": "b" * 32},
            )
        }
        times = dict(session.execute(select(EventRow.id, EventRow.time)).all())
    assert raw["b" * 32] == raw["a" * 32]
    assert times["b" * 32] == times["a" * 32] == moment


def test_prepared_json_reads_back_as_the_same_document(database: Database) -> None:
    with database.write() as session:
        node = create_node(session=session, node=_node("json-doc"))
    with database.session() as session:
        row = session.scalars(select(NodeRow).where(NodeRow.id == node.metadata.id)).one()
        again = read_node(session=session, ref="json-doc")
    assert row.spec == node.spec.model_dump(mode="json")
    assert row.labels == {"rack": "r1", "tier": "edge"}
    assert again == node


def test_prepared_returning_and_literal_binds(database: Database) -> None:
    table = _REVISION
    bump = Prepared(
        update(table)
        .where(table.c.id == 1)
        .values(value=table.c.value + 2)
        .returning(table.c.value)
    )
    with database.write() as session:
        before = current_revision(session=session)
        row = bump.first(session, {})
    assert row == (before + 2,)
    with database.session() as session:
        assert current_revision(session=session) == before + 2


def test_prepared_select_finds_nothing_and_many_rows_insert(database: Database) -> None:
    taken = Prepared(
        select(_NODES.c.id).where(
            _NODES.c.tenant == bindparam("tenant"), _NODES.c.name == bindparam("name")
        )
    )
    changes = Prepared(
        insert(_CHANGES), keys=("revision", "kind", "object_id", "name", "tenant", "op")
    )
    rows = [
        {"revision": 0, "kind": "Test", "object_id": f"o{i}", "name": "n", "tenant": "default"}
        | {"op": "created"}
        for i in range(3)
    ]
    with database.write() as session:
        assert taken.first(session, {"tenant": "default", "name": "nobody"}) is None
        changes.run_many(session, rows)
        changes.run_many(session, [])
    with database.session() as session:
        stored = session.scalars(select(ChangeRow.object_id).where(ChangeRow.kind == "Test"))
        assert sorted(stored) == ["o0", "o1", "o2"]


def test_a_prepared_write_rolls_back_with_its_transaction(database: Database) -> None:
    prepared = Prepared(insert(_EVENTS), keys=list(_event_values("a", MOMENTS[0])))
    with pytest.raises(RuntimeError), database.write() as session:
        prepared.run(session, _event_values("c" * 32, MOMENTS[0]))
        raise RuntimeError("the write fails after its INSERT")
    with database.session() as session:
        assert session.scalar(select(EventRow.id).where(EventRow.id == "c" * 32)) is None


def test_the_cached_connection_ends_with_its_transaction(database: Database) -> None:
    session: Session
    with database.write() as session:
        create_node(session=session, node=_node("cached"))
        assert CONNECTION_KEY in session.info
    assert CONNECTION_KEY not in session.info


def test_group_writer_connection_is_kept_and_replaced_after_a_failure(
    sqlite_db: Database,
) -> None:
    def driver(session: Session) -> object:  # the DBAPI connection under the session
        return session.connection().connection.driver_connection

    with sqlite_db.write() as session:
        first = driver(session)
        create_node(session=session, node=_node("k1"))
    kept = sqlite_db._writer
    with sqlite_db.write() as session:
        assert driver(session) is first
        create_node(session=session, node=_node("k2"))
    assert sqlite_db._writer is kept and kept is not None
    with pytest.raises(Exception), sqlite_db.write() as session:  # noqa: B017 - any failure
        create_node(session=session, node=_node("k3"))
        # What SQLite does on some I/O errors: the whole transaction is rolled back.
        session.connection().exec_driver_sql("ROLLBACK")
    assert sqlite_db._writer is None and kept.closed  # back to the pool, reset there
    with sqlite_db.write() as session:
        create_node(session=session, node=_node("k4"))
    assert sqlite_db._writer is not kept
    with sqlite_db.session() as session:
        names = set(session.scalars(select(NodeRow.name)))
    assert {"k1", "k2", "k4"} <= names and "k3" not in names


def test_statement_journals_are_kept_in_memory(sqlite_db: Database) -> None:
    for context in (sqlite_db.session, sqlite_db.write):
        with context() as session:
            assert session.execute(text("PRAGMA temp_store")).scalar_one() == 2  # MEMORY


def test_dispose_closes_the_kept_writer(sqlite_db: Database) -> None:
    with sqlite_db.write() as session:
        create_node(session=session, node=_node("d1"))
    writer = sqlite_db._writer
    assert writer is not None
    sqlite_db.dispose()
    assert writer.closed and sqlite_db._writer is None
    with sqlite_db.write() as session:  # usable again afterwards, on a new connection
        create_node(session=session, node=_node("d2"))
