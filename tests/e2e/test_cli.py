"""The CLI as a new user drives it, against a real server process.

The tests that only read, or write what no other test looks at, share one server; the one that
checks what a first apply creates has a server of its own."""

import json
import stat
from pathlib import Path

import yaml
from tests.e2e.conftest import ServerProcess, module_server

__all__ = ["module_server"]

REPO = Path(__file__).resolve().parents[2]


def test_first_start_writes_private_token_and_client_context(
    module_server: ServerProcess,
) -> None:
    server = module_server
    token_file = server.data_dir / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    config = Path(server.env["EDGEORCH_CONFIG"])
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    context = yaml.safe_load(config.read_text())
    assert context["contexts"][context["current_context"]]["server"] == server.url
    assert "admin token" in server.log.read_text()


def test_apply_list_show_scale_remove(server: ServerProcess) -> None:
    out = server.cli("apply", "-f", str(REPO / "examples/fleet.yaml")).stdout
    assert "node/mec-fra-01 created" in out
    again = server.cli("apply", "-f", str(REPO / "examples/fleet.yaml")).stdout
    assert "node/mec-fra-01 unchanged" in again
    table = server.cli("node", "ls").stdout
    assert "mec-fra-01" in table and "pending" in table and "NAME" in table
    filtered = server.cli("node", "ls", "--region", "eu-west", "-o", "json").stdout
    assert sorted(n["metadata"]["name"] for n in json.loads(filtered)["items"]) == [
        "cdn-ams-01",
        "iot-gw-lyon-07",
    ]
    shown = yaml.safe_load(server.cli("node", "show", "cdn-ams-01", "-o", "yaml").stdout)
    assert shown["spec"]["country"] == "NL"
    server.cli("apply", "-f", str(REPO / "examples/workloads.yaml"))
    assert "scaled to 5" in server.cli("workload", "scale", "content-delivery", "-r", "5").stdout
    assert "content-delivery" in server.cli("workload", "ls").stdout
    assert (
        "workload/content-delivery deleted"
        in server.cli("workload", "rm", "content-delivery").stdout
    )
    assert "NodeRegistered" in server.cli("events").stdout
    assert "removed" in server.cli("node", "rm", "cdn-ams-01").stdout


def test_errors_are_readable_and_exit_nonzero(module_server: ServerProcess, tmp_path: Path) -> None:
    server = module_server
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (REPO / "examples/fleet.yaml").read_text().replace("latitude: 50.1109", "latitude: 200")
    )
    result = server.cli("apply", "-f", str(bad), check=False)
    assert result.returncode == 1
    assert "spec.location.latitude" in result.stderr and "200" in result.stderr
    assert "nothing was applied" in result.stderr
    missing = server.cli("node", "show", "nope", check=False)
    assert missing.returncode == 1 and "nope" in missing.stderr
    unreachable = server.cli("--server", "http://127.0.0.1:9", "node", "ls", check=False)
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


def test_tokens_and_env_resolution(module_server: ServerProcess) -> None:
    server = module_server
    created = server.cli("token", "create", "--role", "reader", "--name", "ro", "-o", "json")
    secret = json.loads(created.stdout)["secret"]
    as_reader = server.env | {"EDGEORCH_TOKEN": secret}
    reader = ServerProcess(server.data_dir, server.port, as_reader, server.log)
    assert reader.cli("node", "ls", "-o", "json").returncode == 0
    refused = reader.cli("apply", "-f", str(REPO / "examples/fleet.yaml"), check=False)
    assert refused.returncode == 1 and "reader" in refused.stderr
    assert "ro" in server.cli("token", "list").stdout
    server.cli("token", "revoke", "ro")
    denied = reader.cli("node", "ls", check=False)
    assert denied.returncode == 1 and "revoked" in denied.stderr
    join = server.cli("token", "create", "--join", "--ttl", "15m", "-o", "json").stdout
    assert json.loads(join)["expires_at"] is not None
    bad_ttl = server.cli("token", "create", "--ttl", "soon", check=False)
    assert bad_ttl.returncode == 2 and "soon" in bad_ttl.stderr


def test_plan_is_a_dry_run_and_exits_2_when_unplaceable(module_server: ServerProcess) -> None:
    server = module_server  # no test on this server creates workloads or starts agents
    server.cli("apply", "-f", str(REPO / "examples/fleet.yaml"))
    result = server.cli("plan", "-f", str(REPO / "examples/workloads.yaml"), check=False)
    # The fleet is pre-registered but no agent has joined: no node is ready yet.
    assert result.returncode == 2, result.stderr
    assert "workload/content-delivery" in result.stdout
    assert "status" in result.stdout and "hint" in result.stdout
    as_json = server.cli(
        "plan", "-f", str(REPO / "examples/workloads.yaml"), "-o", "json", check=False
    )
    assert json.loads(as_json.stdout)["placeable"] is False
    assert "no workloads" in server.cli("workload", "ls", check=False).stderr
