"""Manifest parsing: several documents, JSON or YAML, and errors that name the document."""

import pytest

from edgeorch.schemas.manifest import ManifestError, parse_documents, validate_documents

NODE = """
apiVersion: edgeorch.io/v1
kind: Node
metadata: {name: a}
spec:
  edge_type: cdn
  region: eu-west
  location: {latitude: 1, longitude: 2}
  country: NL
  capacity: {cpu: 2, memory_mb: 1024}
"""


def test_multi_document_yaml_and_list_kind() -> None:
    text = NODE + "---\n" + NODE.replace("name: a", "name: b")
    docs = validate_documents(parse_documents(text))
    assert [d.obj.metadata.name for d in docs] == ["a", "b"]  # type: ignore[attr-defined]
    wrapped = parse_documents('{"kind": "List", "items": [{"kind": "Node"}]}', content_type="json")
    assert wrapped == [{"kind": "Node"}]


def test_round_trip_output_is_accepted() -> None:
    text = NODE.replace("metadata: {name: a}", "metadata: {name: a, id: x1, resource_version: 3}")
    text += "status: {state: ready}\n"
    assert validate_documents(parse_documents(text))[0].kind == "Node"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("kind: Node\nmetadata: {name: [unclosed\n", "line"),
        ("- just\n- a list\n", "mapping"),
        ("kind: Gadget\nmetadata: {name: g}\n", "unknown kind"),
        ("", "no objects"),
        (NODE + "---\n" + NODE.replace("latitude: 1", "latitude: 100"), "document 2 (a)"),
    ],
)
def test_malformed_manifests(text: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        validate_documents(parse_documents(text))
    rendered = str(info.value) + " ".join(str(e) for e in info.value.errors)
    assert fragment in rendered
