"""Label selectors in Kubernetes' equality syntax, parsed into data.

Accepted terms, comma-separated (all must hold): ``k=v``, ``k==v``, ``k!=v``, ``k`` (the label
exists), ``!k`` (it does not). ``k!=v`` also matches objects without the label, as in Kubernetes.
The SQL translation lives in ``store/sql/labels.py``; this module has no database in it.
"""

import re
from dataclasses import dataclass
from typing import Literal

from edgeorch.store.errors import InvalidSelector

Operator = Literal["=", "!=", "exists", "!exists"]

ACCEPTED_FORMS = "'key=value', 'key==value', 'key!=value', 'key' or '!key', comma-separated"

# Same rules as the label schema (schemas/envelope.py) so a selector can name any stored label.
_KEY = r"(?:[a-z0-9.-]{1,253}/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_TERM_RE = re.compile(
    rf"^(?P<not>!)?\s*(?P<key>{_KEY})\s*(?:(?P<op>==|!=|=)\s*(?P<value>{_VALUE}))?$"
)


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a selector."""

    key: str
    operator: Operator
    value: str | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a label set satisfies this term (the reference the SQL must agree with)."""
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!exists":
            return self.key not in labels
        if self.operator == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a label set satisfies every requirement."""
        return all(r.matches(labels) for r in self.requirements)


def parse_label_selector(text: str) -> LabelSelector:
    """Parse ``text`` (for example ``"tier=edge,!deprecated"``); raise ``InvalidSelector``."""
    if not text.strip():
        return LabelSelector()
    return LabelSelector(tuple(_parse_term(term.strip(), text) for term in text.split(",")))


def _parse_term(term: str, text: str) -> Requirement:
    match = _TERM_RE.match(term)
    if match is None or (match["not"] and match["op"]):
        raise InvalidSelector(
            f"label selector {text!r}: term {term!r} is not valid; use {ACCEPTED_FORMS}"
        )
    key = match["key"]
    if match["not"]:
        return Requirement(key, "!exists")
    if match["op"] is None:
        return Requirement(key, "exists")
    operator: Operator = "!=" if match["op"] == "!=" else "="
    return Requirement(key, operator, match["value"])
