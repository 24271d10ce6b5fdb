"""Label selector parsing: accepted forms, refused forms, and the reference matcher."""

import pytest

from edgeorch.store import InvalidSelector, LabelSelector, Requirement, parse_label_selector

VALID = [
    ("", ()),
    ("tier=edge", (Requirement("tier", "=", "edge"),)),
    ("tier==edge", (Requirement("tier", "=", "edge"),)),
    ("tier!=edge", (Requirement("tier", "!=", "edge"),)),
    ("gpu", (Requirement("gpu", "exists"),)),
    ("!gpu", (Requirement("gpu", "!exists"),)),
    (
        " tier = edge , !gpu,example.com/zone=a-1 ",
        (
            Requirement("tier", "=", "edge"),
            Requirement("gpu", "!exists"),
            Requirement("example.com/zone", "=", "a-1"),
        ),
    ),
    ("empty=", (Requirement("empty", "=", ""),)),
]


@pytest.mark.parametrize(("text", "requirements"), VALID)
def test_valid_selectors_parse(text: str, requirements: tuple[Requirement, ...]) -> None:
    assert parse_label_selector(text) == LabelSelector(requirements)


INVALID = [
    "tier=edge,",
    ",",
    "tier in (a,b)",
    "!tier=edge",
    "=edge",
    "tier=ed ge",
    "ti er",
    "a=b=c",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_selectors_name_the_term_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidSelector) as err:
        parse_label_selector(text)
    assert "is not valid" in str(err.value)
    assert "'key=value'" in str(err.value) and "'!key'" in str(err.value)
    assert isinstance(err.value, ValueError)


MATCHES = [
    ("tier=edge", {"tier": "edge"}, True),
    ("tier=edge", {"tier": "core"}, False),
    ("tier=edge", {}, False),
    ("tier!=edge", {}, True),  # Kubernetes: != also matches objects without the key
    ("tier!=edge", {"tier": "edge"}, False),
    ("gpu", {"gpu": ""}, True),
    ("!gpu", {"gpu": "yes"}, False),
    ("gpu,tier=edge", {"gpu": "1", "tier": "edge"}, True),
    ("", {"anything": "x"}, True),
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCHES)
def test_reference_matcher(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected
