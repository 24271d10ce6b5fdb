"""Persistence: SQLAlchemy over SQLite (default) or PostgreSQL, with a global revision and a
change feed. Repository functions take the session explicitly and are called with keywords::

    db = Database(default_sqlite_url(data_dir))
    db.migrate()
    with db.write() as session:
        node = create_node(session=session, node=NodeCreate(...))

Invariants are listed in ``store/README.md``.
"""

from edgeorch.store.database import Database, default_sqlite_url
from edgeorch.store.errors import (
    AlreadyExists,
    AmbiguousReference,
    Conflict,
    InvalidContinueToken,
    InvalidRequest,
    InvalidSelector,
    NotFound,
    StoreError,
)
from edgeorch.store.pagination import Page
from edgeorch.store.selectors import LabelSelector, Requirement, parse_label_selector
from edgeorch.store.sql.changes import Change, current_revision, list_changes
from edgeorch.store.sql.events import create_event, list_events
from edgeorch.store.sql.instances import (
    create_instance,
    delete_instance,
    list_instances,
    read_instance,
    update_instance_spec,
    update_instance_status,
)
from edgeorch.store.sql.nodes import (
    create_node,
    delete_node,
    list_nodes,
    read_node,
    update_node_config,
    update_node_status,
)
from edgeorch.store.sql.tenants import (
    create_tenant,
    ensure_default_tenant,
    list_tenants,
    read_tenant,
)
from edgeorch.store.sql.tokens import (
    authenticate_token,
    count_tokens,
    create_token,
    list_tokens,
    revoke_token,
)
from edgeorch.store.sql.workloads import (
    create_workload,
    delete_workload,
    list_workloads,
    read_workload,
    scale_workload,
    update_workload,
    update_workload_status,
)

__all__ = [
    "AlreadyExists",
    "AmbiguousReference",
    "Change",
    "Conflict",
    "Database",
    "InvalidContinueToken",
    "InvalidRequest",
    "InvalidSelector",
    "LabelSelector",
    "NotFound",
    "Page",
    "Requirement",
    "StoreError",
    "authenticate_token",
    "count_tokens",
    "create_event",
    "create_instance",
    "create_node",
    "create_tenant",
    "create_token",
    "create_workload",
    "current_revision",
    "default_sqlite_url",
    "delete_instance",
    "delete_node",
    "delete_workload",
    "ensure_default_tenant",
    "list_changes",
    "list_events",
    "list_instances",
    "list_nodes",
    "list_tenants",
    "list_tokens",
    "list_workloads",
    "parse_label_selector",
    "read_instance",
    "read_node",
    "read_tenant",
    "read_workload",
    "revoke_token",
    "scale_workload",
    "update_instance_spec",
    "update_instance_status",
    "update_node_config",
    "update_node_status",
    "update_workload",
    "update_workload_status",
]

from edgeorch.store.sql.agents import (
    Assignment,
    Assignments,
    JoinResult,
    assignments_digest,
    join_node,
    read_assignments,
)

__all__ += [
    "Assignment",
    "Assignments",
    "JoinResult",
    "assignments_digest",
    "join_node",
    "read_assignments",
]

# Telemetry and alert tables (migration 0003_telemetry) join Base.metadata whenever the store is
# imported; their functions are used from their modules and stay out of the pinned __all__.
from edgeorch.store.sql import alerts as _alerts  # noqa: E402, F401

# The migrations table (migration 0004_migrations) joins Base.metadata the same way; its
# repository is used from edgeorch.store.sql.migration_records.
from edgeorch.store.sql import migration_records as _migration_records  # noqa: E402, F401
from edgeorch.store.sql import telemetry as _telemetry  # noqa: E402, F401
