"""FastAPI factory: routers, middleware, error handlers, the built UI, and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response

from spectra import __version__, registry
from spectra.core import jobs
from spectra.core.clock import ensure_clock_state
from spectra.core.config import get_settings
from spectra.core.errors import install_error_handlers, problem_response
from spectra.core.events import PostgresListener
from spectra.core.idempotency import IdempotencyMiddleware
from spectra.core.observability import RequestContextMiddleware
from spectra.core.router import public_router
from spectra.core.router import router as platform_router
from spectra.core.write_gate import SqliteWriteGate

log = logging.getLogger("spectra.app")

WEB_DIST = Path(__file__).parent / "web" / "dist"


def create_app(*, run_scheduler: bool | None = None) -> FastAPI:
    settings = get_settings()
    registry.load_models()
    registry.load_tasks()
    registry.run_startup_hooks()
    start_scheduler = settings.run_scheduler if run_scheduler is None else run_scheduler

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_clock_state()
        listener = None
        if not settings.is_sqlite:
            listener = PostgresListener(settings.database_url)
            listener.start()
        scheduler = None
        if start_scheduler:
            scheduler = jobs.JobScheduler()
            scheduler.start()
            jobs.current_scheduler = scheduler
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()
                jobs.current_scheduler = None
            if listener is not None:
                listener.stop()

    app = FastAPI(
        title="Spectra",
        version=__version__,
        description=(
            "Control plane for the cost, carbon and capacity of cloud fleets. Every `/api` route except "
            "`/api/health` needs `Authorization: Bearer <token>`. Errors are `application/problem+json`. "
            "Mutations accept `Idempotency-Key` (or `X-Request-ID`) for safe retries."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(public_router)
    app.include_router(platform_router)
    for router in registry.load_routers():
        app.include_router(router)
    _install_root_and_ui(app)

    # Added innermost first: request context → (SQLite write gate) → idempotency → the app.
    app.add_middleware(IdempotencyMiddleware)
    if settings.is_sqlite:
        app.add_middleware(SqliteWriteGate)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestContextMiddleware)
    return app


def api_info() -> dict[str, Any]:
    return {
        "name": "Spectra",
        "version": __version__,
        "description": "Control plane for the cost, carbon and capacity of cloud fleets",
        "docs": "/docs",
        "openapi": "/openapi.json",
        "health": "/health",
        "api": "/api",
        "ui": "/" if (WEB_DIST / "index.html").exists() else None,
    }


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _install_root_and_ui(app: FastAPI) -> None:
    @app.get("/", tags=["health"], summary="API information (browsers get the web UI)")
    def root(request: Request) -> Response:
        index = WEB_DIST / "index.html"
        if _wants_html(request) and index.exists():
            return FileResponse(index)
        return JSONResponse({"status": "success", "data": api_info()})

    @app.get("/{path:path}", include_in_schema=False)
    def ui(path: str, request: Request) -> Response:
        if path.startswith("api/") or path == "api":
            return problem_response(404, "not_found", "Not found", f"no route {request.url.path}", request)
        candidate = (WEB_DIST / path).resolve()
        if WEB_DIST.exists() and candidate.is_file() and WEB_DIST.resolve() in candidate.parents:
            return FileResponse(candidate)
        index = WEB_DIST / "index.html"
        if index.exists():
            return FileResponse(index)  # client-side route
        return problem_response(
            404, "not_found", "Not found", "the web UI is not built (run `make run` or `make ui`)", request
        )
