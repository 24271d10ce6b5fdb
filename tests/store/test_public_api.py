"""The store's public surface is curated; this pins it so changes are deliberate."""

import edgeorch.store as store
from edgeorch.store import errors

EXPECTED = {
    "AlreadyExists", "AmbiguousReference", "Change", "Conflict", "Database",
    "InvalidContinueToken", "InvalidRequest", "InvalidSelector", "LabelSelector", "NotFound",
    "Page", "Requirement", "StoreError", "authenticate_token", "count_tokens", "create_event",
    "create_instance", "create_node", "create_tenant", "create_token", "create_workload",
    "current_revision", "default_sqlite_url", "delete_instance", "delete_node",
    "delete_workload", "ensure_default_tenant", "list_changes", "list_events", "list_instances",
    "list_nodes", "list_tenants", "list_tokens", "list_workloads", "parse_label_selector",
    "read_instance", "read_node", "read_tenant", "read_workload", "revoke_token",
    "scale_workload", "update_instance_spec", "update_instance_status", "update_node_config",
    "update_node_status", "update_workload", "update_workload_status",
    # agent-facing (sql/agents.py)
    "Assignment", "Assignments", "JoinResult", "assignments_digest", "join_node",
    "read_assignments",
}  # fmt: skip


def test_all_is_pinned_and_importable() -> None:
    assert set(store.__all__) == EXPECTED
    assert all(hasattr(store, name) for name in store.__all__)


def test_error_tree() -> None:
    for leaf in ("NotFound", "AlreadyExists", "Conflict", "AmbiguousReference", "InvalidRequest"):
        assert issubclass(getattr(errors, leaf), errors.StoreError)
    for leaf in ("InvalidContinueToken", "InvalidSelector"):
        assert issubclass(getattr(errors, leaf), errors.InvalidRequest)
        assert issubclass(getattr(errors, leaf), ValueError)
    assert "StoreError\n" in (errors.__doc__ or "")


def test_conflict_message_says_what_which_and_what_to_do() -> None:
    message = str(errors.Conflict.stale("Workload", "web", current=12, sent=9))
    assert message == (
        "workload 'web' was modified (resource_version 12, you sent 9); read it again and retry"
    )
