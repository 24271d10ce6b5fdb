"""Manifests: YAML or JSON files of one or more objects, as ``edgeorch apply`` sends them.

A file may hold several YAML documents (``---``), a JSON object, a JSON list, or a ``kind: List``
object with ``items``. Every document is validated before anything is applied, and each error
names the document (by position and name) and the field.
"""

import json
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from edgeorch.schemas.errors import validation_errors
from edgeorch.schemas.node import NodeCreate
from edgeorch.schemas.tenant import TenantCreate
from edgeorch.schemas.workload import WorkloadCreate

MANIFEST_KINDS: dict[str, type[BaseModel]] = {
    "Node": NodeCreate,
    "Workload": WorkloadCreate,
    "Tenant": TenantCreate,
}
# Fields the server sets; a manifest read back with ``-o yaml`` carries them, and apply drops
# them the way kubectl does rather than refusing a round trip. A resource_version is kept:
# applying a stale copy is a conflict, as with kubectl.
SERVER_SET_METADATA = ("id", "created_at", "updated_at")


class ManifestError(ValueError):
    """A manifest that cannot be parsed or validated; ``errors`` has one entry per problem."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class ManifestDocument:
    """One validated object of a manifest and its position in the file."""

    index: int
    kind: str
    obj: BaseModel


def parse_documents(text: str, *, content_type: str = "application/yaml") -> list[Any]:
    """Split raw text into documents; ManifestError with line and column when it won't parse."""
    if "json" in content_type:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"the manifest is not valid JSON: {exc.msg} at line {exc.lineno} column "
                f"{exc.colno}",
                [{"field": "(document)", "message": exc.msg, "line": exc.lineno}],
            ) from exc
        docs = data if isinstance(data, list) else [data]
    else:
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ManifestError(
                f"the manifest is not valid YAML: {problem}{where}",
                [{"field": "(document)", "message": f"{problem}{where}"}],
            ) from exc
    expanded: list[Any] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            expanded.extend(doc.get("items") or [])
        else:
            expanded.append(doc)
    return expanded


def _strip_server_fields(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc.pop("status", None)
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        doc["metadata"] = {k: v for k, v in meta.items() if k not in SERVER_SET_METADATA}
    return doc


def validate_documents(docs: list[Any]) -> list[ManifestDocument]:
    """Validate every document; ManifestError listing all problems if any fails."""
    if not docs:
        raise ManifestError("the manifest holds no objects", [])
    out: list[ManifestDocument] = []
    errors: list[dict[str, Any]] = []
    for index, doc in enumerate(docs):
        label = f"document {index + 1}"
        if not isinstance(doc, dict):
            errors.append({"field": label, "message": "a document must be a mapping (an object)"})
            continue
        name = (
            (doc.get("metadata") or {}).get("name")
            if isinstance(doc.get("metadata"), dict)
            else None
        )
        if name:
            label += f" ({name})"
        kind = doc.get("kind")
        model = MANIFEST_KINDS.get(str(kind))
        if model is None:
            errors.append(
                {
                    "field": f"{label}: kind",
                    "value": kind,
                    "message": f"unknown kind {kind!r}",
                    "accepted": f"one of {', '.join(MANIFEST_KINDS)}",
                }
            )
            continue
        try:
            obj = model.model_validate(_strip_server_fields(doc))
        except ValidationError as exc:
            for entry in validation_errors(exc.errors(), model, strip_body=False):
                entry["field"] = f"{label}: {entry['field']}"
                errors.append(entry)
            continue
        out.append(ManifestDocument(index=index, kind=str(kind), obj=obj))
    if errors:
        raise ManifestError(
            f"{len(errors)} problem(s) in the manifest; nothing was applied", errors
        )
    return out
