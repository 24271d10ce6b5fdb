"""Node and workload input validation: what is refused, with which field and accepted values."""

from typing import Any

import pytest
from pydantic import ValidationError

from edgeorch.schemas import NodeCreate, WorkloadCreate
from edgeorch.schemas.errors import validation_errors


def node_doc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "edge_type": "mec",
        "region": "eu-central",
        "location": {"latitude": 50.1, "longitude": 8.7},
        "country": "DE",
        "capacity": {"cpu": 8, "memory_mb": 16384},
    }
    base.update(spec)
    return {
        "apiVersion": "edgeorch.io/v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "spec": base,
    }


def errors_of(model: Any, doc: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(doc)
    return validation_errors(info.value.errors(), model, strip_body=False)


@pytest.mark.parametrize(
    ("spec", "field", "accepted_fragment"),
    [
        ({"location": {"latitude": 200, "longitude": 0}}, "spec.location.latitude", "<= 90"),
        ({"location": {"latitude": 0, "longitude": -181}}, "spec.location.longitude", ">= -180"),
        ({"capacity": {"cpu": -1}}, "spec.capacity.cpu", ">= 0"),
        ({"edge_type": "satellite"}, "spec.edge_type", "'mec'"),
        ({"arch": "sparc"}, "spec.arch", "'arm64'"),
        ({"network_slices": ["6g"]}, "spec.network_slices[0]", "'urllc'"),
        ({"cost_per_hour": -0.5}, "spec.cost_per_hour", ">= 0"),
        ({"flavour": "x"}, "spec.flavour", "edge_type"),
        ({"capabilities": ["GPU!"]}, "spec.capabilities[0]", ""),
        ({"region": "EU West"}, "spec.region", "matching"),
    ],
)
def test_bad_node_fields_name_field_and_accepted(
    spec: dict[str, Any], field: str, accepted_fragment: str
) -> None:
    errors = errors_of(NodeCreate, node_doc(**spec))
    entry = next(e for e in errors if e["field"] == field)
    assert accepted_fragment in entry.get("accepted", "") + entry["message"]


@pytest.mark.parametrize(
    ("country", "ok"),
    [("DE", True), ("de", True), ("GB", True), ("UK", False), ("XX", False), ("DEU", False)],
)
def test_country_codes(country: str, ok: bool) -> None:
    doc = node_doc(country=country)
    if ok:
        assert NodeCreate.model_validate(doc).spec.country == country.upper()
    else:
        errors = errors_of(NodeCreate, doc)
        assert errors[0]["field"] == "spec.country"
        assert "alpha-2" in errors[0]["message"] or "GB" in errors[0]["message"]


def test_read_only_status_and_id_are_refused() -> None:
    doc = node_doc()
    doc["status"] = {"state": "ready"}
    doc["metadata"]["id"] = "abc"
    fields = {e["field"] for e in errors_of(NodeCreate, doc)}
    assert fields == {"status", "metadata.id"}


def workload_doc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"runtime": "process", "artifact": {"command": ["sleep", "60"]}}
    base.update(spec)
    return {"kind": "Workload", "metadata": {"name": "w1"}, "spec": base}


@pytest.mark.parametrize(
    ("spec", "message_fragment"),
    [
        ({"runtime": "wasm"}, "artifact.digest"),
        ({"replicas": 2, "scaling": {"min": 1, "max": 3}}, "not both"),
        ({"scaling": {"min": 5, "max": 3}}, "must not exceed"),
        ({"singleton": True, "replicas": 2}, "singleton"),
        ({"placement": {"residency": {"regulation": "HIPAA"}}}, "GDPR"),
        ({"placement": {"residency": {}}}, "countries"),
        ({"resources": {"cpu": -0.5}}, "greater than or equal"),
        ({"artifact": {"digest": "md5:abc"}, "runtime": "wasm"}, "pattern"),
    ],
)
def test_bad_workloads(spec: dict[str, Any], message_fragment: str) -> None:
    errors = errors_of(WorkloadCreate, workload_doc(**spec))
    text = " ".join(e["message"] + " " + e.get("accepted", "") for e in errors)
    assert message_fragment in text


def test_workload_defaults_to_one_replica_and_gdpr_countries() -> None:
    w = WorkloadCreate.model_validate(
        workload_doc(placement={"residency": {"regulation": "gdpr", "countries": ["DE", "US"]}})
    )
    assert w.spec.replicas == 1
    assert w.spec.placement.residency is not None
    assert w.spec.placement.residency.allowed() == frozenset({"DE"})
