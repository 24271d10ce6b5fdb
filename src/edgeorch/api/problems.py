"""RFC 9457 problem details for every error the API returns.

Every client mistake gets a 4xx ``application/problem+json`` body that says what was wrong, where
(``errors[].field``, a dotted path such as ``spec.location.latitude``), with which value, and what
would be accepted. Server faults get a 500 with a request id and no internals.

    ApiProblem                      raised by routes and dependencies
    ├── status, title, detail       the RFC 9457 members
    └── errors                      per-field entries: field, value, message, accepted
"""

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgeorch.schemas.errors import validation_errors
from edgeorch.store import errors as store_errors

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:edgeorch:problem:"


class ApiProblem(Exception):
    """An error answered as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        kind: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(problem: ApiProblem, request: Request) -> JSONResponse:
    """Render ``problem`` as an RFC 9457 response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
    }
    if problem.errors:
        body["errors"] = problem.errors
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


def invalid(errors: list[dict[str, Any]], *, what: str = "request body") -> ApiProblem:
    """A 422 problem summarising per-field errors in its detail."""
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return ApiProblem(
        422, "Invalid request", f"the {what} is invalid: {summary}{more}", errors=errors
    )


def body_problem(exc: ValidationError, model: type[BaseModel]) -> ApiProblem:
    """The problem for a body parsed by hand with ``model.model_validate_json`` (the same
    answers FastAPI's validation gets below: 400 for malformed JSON, else 422 per field)."""
    errors = exc.errors()
    malformed = _malformed(list(errors))
    if malformed is not None:
        return malformed
    return invalid(validation_errors(errors, model, strip_body=False))


def _malformed(errors: list[Any]) -> ApiProblem | None:
    """A 400 for a body that is not JSON at all (pydantic's ``json_invalid``), else None."""
    bad = [e for e in errors if e.get("type") == "json_invalid"]
    if not bad:
        return None
    ctx = bad[0].get("ctx") or {}
    detail = f"the body is not valid JSON: {ctx.get('error', 'parse error')}"
    pos = bad[0].get("loc", ())
    if len(pos) > 1:  # FastAPI's errors carry ("body", character)
        detail += f" at character {pos[1]}"
    return ApiProblem(400, "Malformed body", detail)


def _route_body_model(request: Request) -> type[BaseModel] | None:
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    info = getattr(field, "field_info", None)
    model = getattr(info, "annotation", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    malformed = _malformed(errors)
    if malformed is not None:
        return problem_response(malformed, request)
    problem = invalid(validation_errors(errors, _route_body_model(request)))
    return problem_response(problem, request)


async def _on_pydantic_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    problem = invalid(validation_errors(exc.errors(), None, strip_body=False))
    return problem_response(problem, request)


async def _on_api_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc, request)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
    title = titles.get(exc.status_code, "HTTP error")
    detail = str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such endpoint: {request.method} {request.url.path}; see /api/docs"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}; see /api/docs"
    problem = ApiProblem(exc.status_code, title, detail, headers=dict(exc.headers or {}))
    return problem_response(problem, request)


_STORE_STATUS: list[tuple[type[Exception], int, str]] = [
    (store_errors.NotFound, 404, "Not found"),
    (store_errors.AlreadyExists, 409, "Already exists"),
    (store_errors.Conflict, 409, "Conflict"),
    (store_errors.AmbiguousReference, 400, "Ambiguous reference"),
    (store_errors.InvalidContinueToken, 400, "Invalid continue token"),
    (store_errors.InvalidSelector, 400, "Invalid label selector"),
    (store_errors.InvalidRequest, 422, "Invalid request"),
]


async def _on_store_error(request: Request, exc: Exception) -> JSONResponse:
    for cls, status, title in _STORE_STATUS:
        if isinstance(exc, cls):
            return problem_response(ApiProblem(status, title, str(exc)), request)
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = uuid.uuid4().hex[:12]
    log.error(
        "unhandled error %s on %s %s", request_id, request.method, request.url.path, exc_info=exc
    )
    problem = ApiProblem(
        500,
        "Internal server error",
        f"the server failed to handle this request (request id {request_id}); "
        "the error is in the server log under that id",
    )
    return problem_response(problem, request)


def install(app: FastAPI) -> None:
    """Route every error through problem+json."""
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(ValidationError, _on_pydantic_validation)
    app.add_exception_handler(ApiProblem, _on_api_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(store_errors.StoreError, _on_store_error)
    app.add_exception_handler(Exception, _on_unexpected)
