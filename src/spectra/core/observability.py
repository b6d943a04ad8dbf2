"""Request ids, JSON request logs and Prometheus metrics, as one pure ASGI middleware (cheap per request)."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectra.core.context import set_actor, set_request_id

REQUEST_SECONDS = Histogram(
    "spectra_http_request_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS = Counter("spectra_http_requests_total", "HTTP requests", ["method", "route", "status"])
access_log = logging.getLogger("spectra.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            body.update(extra)
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True
    if root.level > logging.DEBUG:
        # Their info lines are per job tick / per migration step: noise at the default level. The scheduler's
        # "skipped: maximum number of running instances" is expected when a job outlasts its 1 s check.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.WARNING)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                request_id = value.decode()[:128]
                break
        request_id = request_id or uuid.uuid4().hex
        set_request_id(request_id)
        set_actor(None)
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "static" if not scope["path"].startswith("/api") else "unmatched"
            )
            status = str(status_holder["status"])
            REQUEST_SECONDS.labels(scope["method"], template, status).observe(elapsed)
            REQUESTS.labels(scope["method"], template, status).inc()
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "fields": {
                            "request_id": request_id,
                            "method": scope["method"],
                            "path": scope["path"],
                            "route": template,
                            "status": status_holder["status"],
                            "ms": round(elapsed * 1000, 2),
                        }
                    },
                )
