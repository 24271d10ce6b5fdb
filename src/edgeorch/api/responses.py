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
    body = ObjectList[Any](
        kind=kind,
        metadata=ListMeta(revision=page.revision, continue_=page.continue_token),
        items=list(page.items if items is None else items),
    )
    return json_model(body)
