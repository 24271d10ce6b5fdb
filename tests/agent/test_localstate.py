"""The agent's local SQLite state: identity, desired sets (never older), task records."""

from pathlib import Path

from edgeorch.agent.localstate import DesiredSet, Identity, LocalState, TaskRecord
from edgeorch.agent.protocol import AssignmentItem
from edgeorch.schemas.workload import WorkloadSpec


def _item(instance_id: str) -> AssignmentItem:
    spec = WorkloadSpec.model_validate({"runtime": "process", "artifact": {"command": ["true"]}})
    return AssignmentItem(
        instance_id=instance_id,
        instance_name=f"w-{instance_id}",
        replica=0,
        generation=1,
        desired_state="running",
        workload_id="w",
        workload_name="w",
        workload_spec=spec,
    )


def test_identity_survives_reopening_and_the_file_is_private(tmp_path: Path) -> None:
    state = LocalState(tmp_path)
    assert state.identity() is None
    state.save_identity(Identity("http://cp", "n1", "edge", "eo_secret"))
    state.close()
    assert LocalState(tmp_path).identity() == Identity("http://cp", "n1", "edge", "eo_secret")
    assert (tmp_path / "agent.db").stat().st_mode & 0o777 == 0o600


def test_an_older_revision_is_never_stored(tmp_path: Path) -> None:
    state = LocalState(tmp_path)
    assert state.save_desired(DesiredSet(5, "d5", [_item("a"), _item("b")]))
    assert not state.save_desired(DesiredSet(4, "d4", []))
    assert state.save_desired(DesiredSet(5, "d5", [_item("a"), _item("b")]))  # idempotent
    stored = state.desired()
    assert (stored.revision, stored.digest) == (5, "d5")
    assert [i.instance_id for i in stored.items] == ["a", "b"]
    assert state.save_desired(DesiredSet(7, "d7", [_item("c")]))
    assert [i.instance_id for i in state.desired().items] == ["c"]


def test_task_records_round_trip(tmp_path: Path) -> None:
    state = LocalState(tmp_path)
    record = TaskRecord(
        "a", "process", {"task_id": "a", "driver": "process", "data": {}}, "h", 80, "t"
    )
    state.save_task(record)
    assert state.tasks() == [record]
    state.delete_task("a")
    assert state.tasks() == []
