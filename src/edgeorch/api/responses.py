"""Serialising models straight to JSON responses.

A route that returns a model makes FastAPI validate it again against ``response_model`` before
serialising; for a page of a thousand nodes that doubles the work. List routes build their
model once and return it through :func:`json_model`; ``response_model`` still documents them.
"""

from fastapi import Response
from pydantic import BaseModel


def json_model(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as an ``application/json`` response, field aliases applied."""
    return Response(
        content=model.model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )
