"""Alembic environment: runs on the connection ``Database.migrate`` passes in.

For developers generating a migration, it also accepts a URL from ``EDGEORCH_DATABASE_URL``
(``alembic -c <config> revision --autogenerate``); both backends must then be checked by the tests.
"""

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from edgeorch.store.sql.orm import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # Batch mode lets ALTER-like operations work on SQLite (copy and rename the table).
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Run the migrations on the given connection, or on a new one from the environment."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(os.environ.get("EDGEORCH_DATABASE_URL", "sqlite:///edgeorch.db"))
    with engine.begin() as conn:
        _run(conn)


main()
