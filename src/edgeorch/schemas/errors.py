"""Turning pydantic validation errors into entries a user can act on.

Each entry has the ``field`` (a dotted path such as ``spec.location.latitude``), the bad
``value``, a ``message``, and what would be ``accepted``. Shared by the API's problem responses
and by manifest validation, so both speak the same way.
"""

import json
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def _field_path(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Optional/Union/list/dict/Annotated wrappers."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset, Sequence):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    if origin is dict:
        return _unwrap(typing.get_args(annotation)[1])
    return [annotation]


def accepted_fields(model: type[BaseModel] | None, loc: Sequence[int | str]) -> list[str] | None:
    """The field names accepted at ``loc`` inside ``model`` (the loc's last item is the unknown
    field itself), or None when the location cannot be resolved."""
    current: type[BaseModel] | None = model
    for item in loc[:-1]:
        if current is None:
            return None
        if isinstance(item, int):
            continue
        info = current.model_fields.get(item)
        if info is None:
            info = next((f for f in current.model_fields.values() if f.alias == item), None)
        if info is None:
            return None
        candidates = [
            t for t in _unwrap(info.annotation) if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        current = candidates[0] if candidates else None
    if current is None:
        return None
    return sorted(f.alias or name for name, f in current.model_fields.items())


def _accepted(error: dict[str, Any], model: type[BaseModel] | None, loc: Sequence[Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    bounds = {
        "greater_than_equal": ">= {ge}",
        "greater_than": "> {gt}",
        "less_than_equal": "<= {le}",
        "less_than": "< {lt}",
        "too_short": "at least {min_length} item(s) or character(s)",
        "too_long": "at most {max_length} item(s) or character(s)",
        "string_pattern_mismatch": "a string matching {pattern}",
    }
    if kind in bounds:
        try:
            return bounds[kind].format(**ctx)
        except KeyError:
            return ""
    if kind in ("enum", "literal_error"):
        return f"one of {ctx.get('expected', '')}"
    if kind == "extra_forbidden":
        fields = accepted_fields(model, loc)
        return f"known fields: {', '.join(fields)}" if fields else "only the documented fields"
    if kind == "missing":
        return "a value (this field is required)"
    if kind.endswith("_parsing") or kind.endswith("_type"):
        return f"a {kind.split('_')[0]} value"
    return ""


def validation_errors(
    errors: Sequence[Any], model: type[BaseModel] | None, *, strip_body: bool = True
) -> list[dict[str, Any]]:
    """Convert pydantic errors to problem entries with field, value, message and accepted."""
    out = []
    for error in errors:
        loc = list(error.get("loc", ()))
        if strip_body and loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        message = str(error.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = f"unknown or read-only field {_field_path(loc)!r}"
        entry: dict[str, Any] = {"field": _field_path(loc) or "(body)", "message": message}
        if "input" in error and error.get("type") != "missing":
            entry["value"] = _jsonable(error["input"])
        accepted = _accepted(error, model, loc)
        if accepted:
            entry["accepted"] = accepted
        out.append(entry)
    return out


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)  # NaN/Infinity are not JSON: the answer must be
    except (TypeError, ValueError):
        return repr(value)
    return value
