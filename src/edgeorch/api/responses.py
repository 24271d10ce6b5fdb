"""Serialising models straight to JSON responses.

A route that returns a model makes FastAPI validate it again against ``response_model`` before
serialising; for a page of a thousand nodes that doubles the work. List routes build their
model once and return it through :func:`json_model`; ``response_model`` still documents them.
"""

from collections.abc import Sequence
from typing import Any

from fastapi import Response
from pydantic import BaseModel

from edgeorch.schemas.envelope import ListMeta, ObjectList
from edgeorch.store import Page
from edgeorch.store.pagination import DocumentPage


def json_model(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as an ``application/json`` response, field aliases applied."""
    return Response(
        content=model.model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )


def page_json(kind: str, page: Page[Any], items: Sequence[BaseModel] | None = None) -> Response:
    """A page of a store list as an ``ObjectList`` of ``kind`` (``items`` when the page's own
    items need converting first)."""
    models: Sequence[BaseModel] = page.items if items is None else items
    return _envelope(kind, page, ",".join(m.model_dump_json(by_alias=True) for m in models))


def page_documents(kind: str, page: DocumentPage) -> Response:
    """A page of JSON documents (``list_*_documents`` of the store) as an ``ObjectList`` of
    ``kind``: the documents are spliced in as they are, never parsed."""
    return _envelope(kind, page, page.documents)


def _envelope(kind: str, page: Page[Any] | DocumentPage, items: str) -> Response:
    # The same JSON as ObjectList[...].model_dump_json(by_alias=True), without serialising the
    # items through ``Any`` (pydantic's slowest path: it inspects every value's type).
    empty = ObjectList[Any](
        kind=kind,
        metadata=ListMeta(revision=page.revision, continue_=page.continue_token),
        items=[],
    ).model_dump_json(by_alias=True)
    if not empty.endswith('"items":[]}'):  # pragma: no cover - guards the field order
        raise AssertionError(f"unexpected ObjectList layout: {empty}")
    body = f"{empty[:-3]}[{items}]}}"
    return Response(content=body, status_code=200, media_type="application/json")
