"""One error type, rendered as RFC 9457 `application/problem+json` with a stable machine `code`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from spectra.core.context import current_request_id

log = logging.getLogger("spectra.errors")

PROBLEM_JSON = "application/problem+json"


class SpectraError(Exception):
    """Base class of every error the API answers with; services raise these, routers never catch them."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class BadRequest(SpectraError):
    pass


class Unauthorized(SpectraError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(SpectraError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(SpectraError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(SpectraError):
    status, code, title = 409, "conflict", "Conflict"


class StaleVersion(Conflict):
    code = "stale_version"

    def __init__(self, entity: str, current_version: int | None) -> None:
        super().__init__(
            f"{entity} was changed by someone else; re-read it and retry",
            current_version=current_version,
        )


class Unprocessable(SpectraError):
    """Bad input: `errors` lists each offending field or row, e.g. {"field": "rows[3].zone", "msg": ...}."""

    status, code, title = 422, "validation_error", "Invalid input"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail, errors=errors or [], **extra)


class ServiceUnavailable(SpectraError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class ProblemDetail(BaseModel):
    """RFC 9457 problem document as Spectra sends it."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_response(
    status: int, code: str, title: str, detail: str, request: Request | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://spectra.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": current_request_id(),
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if body.get("retry_after_seconds") is not None:  # a 503 that sheds load says when to come back
        headers["Retry-After"] = str(body["retry_after_seconds"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


# Documented on routes as `responses=PROBLEM_RESPONSES`.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetail, "content": {PROBLEM_JSON: {}}, "description": desc}
    for code, desc in (
        (401, "Missing or invalid bearer token"),
        (403, "Token lacks the role"),
        (404, "Not found (or not yours)"),
        (409, "Conflict: stale version, duplicate or refused state change"),
        (422, "Invalid input; `errors` names each field or row"),
    )
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or ".".join(str(p) for p in loc)


def _validation_error(error: dict[str, Any]) -> dict[str, Any]:
    if error["type"] == "json_invalid":  # loc is ("body", character offset): say so rather than "[81]"
        at = error["loc"][-1] if len(error["loc"]) > 1 else None
        msg = f"{error['msg']} at character {at}" if isinstance(at, int) else error["msg"]
        return {"field": "body", "msg": msg, "type": error["type"]}
    return {"field": _field_name(tuple(error["loc"])), "msg": error["msg"], "type": error["type"]}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SpectraError)
    async def _spectra(request: Request, exc: SpectraError) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.title, exc.detail, request, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_validation_error(e) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['msg']}" for e in errors[:5])
        return problem_response(422, "validation_error", "Invalid input", detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return problem_response(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            str(exc.detail),
            request,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity conflict on %s: %s", request.url.path, exc.orig)
        return problem_response(
            409, "integrity_conflict", "Conflict", "the change conflicts with existing data", request
        )

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return problem_response(
            409,
            "stale_version",
            "Conflict",
            "the object was changed concurrently; re-read and retry",
            request,
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error on %s: %s", request.url.path, exc.orig)
        return problem_response(
            503, "database_unavailable", "Service unavailable", "the database is unreachable", request
        )

    @app.exception_handler(SAInterfaceError)
    async def _db_iface(request: Request, exc: SAInterfaceError) -> JSONResponse:
        return await _db_down(request, exc)  # type: ignore[arg-type]

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(
            500,
            "internal_error",
            "Internal error",
            "an unexpected error occurred; quote the request id when reporting it",
            request,
        )
