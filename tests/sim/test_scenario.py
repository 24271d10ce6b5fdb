"""Scenario files: validated with the API's schemas, errors name the entry and the field."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from edgeorch.sim.scenario import ScenarioError, load_scenario, parse_scenario

EUA = Path(__file__).resolve().parents[3] / "shared" / "data" / "eua"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "eua_scenario.py"


def _node(name: str, **changes: object) -> dict[str, object]:
    node: dict[str, object] = {
        "name": name,
        "edge_type": "mec",
        "region": "eu-central",
        "location": {"latitude": 50.11, "longitude": 8.68},
        "country": "DE",
        "capacity": {"cpu": 16, "memory_mb": 65536},
        "network_slices": ["urllc"],
    }
    node.update(changes)
    return node


def test_yaml_and_json_files_load(tmp_path: Path) -> None:
    data = {"nodes": [_node("fra-1"), _node("fra-2")], "users": [{"latitude": 50, "longitude": 8}]}
    for path, text in [
        (tmp_path / "s.yaml", yaml.safe_dump(data)),
        (tmp_path / "s.json", json.dumps(data)),
    ]:
        path.write_text(text)
        scenario = load_scenario(path)
        assert [n.name for n in scenario.nodes] == ["fra-1", "fra-2"]
        assert scenario.nodes[0].node.spec.network_slices == ["urllc"]
        # The modelled RTT is to the nearest user population: ~80 km away plus MEC access.
        assert 8.0 < scenario.nodes[0].access_rtt_ms < 12.0


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([_node("a", capacity={"cpu": -1})], r"nodes\[0\] \(a\): capacity.cpu"),
        ([_node("a", edge_type="fog")], r"nodes\[0\] \(a\): edge_type.*'fog'"),
        ([_node("a"), _node("b", colour="red")], r"nodes\[1\] \(b\): .*colour"),
        ([{"edge_type": "mec"}], r"nodes\[0\]: name"),
        ([_node("a"), _node("a")], "duplicate names"),
        ([_node("Bad Name")], r"nodes\[0\] \(Bad Name\)"),
    ],
)
def test_errors_name_the_entry_and_the_field(nodes: list[object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"nodes": nodes})


def test_shape_errors() -> None:
    with pytest.raises(ScenarioError, match="'nodes' list"):
        parse_scenario([1, 2])
    with pytest.raises(ScenarioError, match="unknown top-level keys"):
        parse_scenario({"nodes": [_node("a")], "workloads": []})
    with pytest.raises(ScenarioError, match=r"users\[0\]"):
        parse_scenario({"nodes": [_node("a")], "users": [{"latitude": 91, "longitude": 0}]})


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eua_scenario", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not EUA.exists(), reason="../shared/data/eua is not beside the repo")
def test_the_eua_example_builds_a_valid_scenario_of_real_towers() -> None:
    scenario = parse_scenario(_example().build(EUA))
    assert len(scenario.nodes) == 125
    assert all(n.node.spec.country == "AU" for n in scenario.nodes)
    assert sum(u.weight for u in scenario.users) == 816
