"""A route class for bulk JSON endpoints: the body is parsed with orjson instead of the standard library.

On a 1,000-point metric batch the standard parser was a third of the request's time, spent on the event loop
where it holds up every other request; orjson parses the same body several times faster. It accepts only
standard JSON (no NaN or Infinity literals): anything else is answered 422 like any malformed body.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class _OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class BulkJSONRoute(APIRoute):
    """Use as `APIRouter(route_class=BulkJSONRoute)` for routers that take large JSON bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parse_with_orjson(request: Request) -> Response:
            return await handler(_OrjsonRequest(request.scope, request.receive))

        return parse_with_orjson
