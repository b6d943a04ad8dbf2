"""Every router of the spot domain."""

from __future__ import annotations

import importlib
from typing import Any

from spectra.spot.admin.router import router as admin_router
from spectra.spot.agents.router import client_router as agent_client_router
from spectra.spot.agents.router import router as agent_router
from spectra.spot.analytics.router import admin_router as analytics_admin_router
from spectra.spot.analytics.router import router as analytics_router
from spectra.spot.commands.router import router as command_router
from spectra.spot.emergency.router import admin_router as emergency_admin_router
from spectra.spot.emergency.router import router as emergency_router
from spectra.spot.instances.router import router as instance_router
from spectra.spot.notifications.router import alerts_router
from spectra.spot.notifications.router import router as notification_router


def _optional_routers(module: str) -> list[Any]:
    """Pricing and decision routes live in their own sub-packages; include them once they exist."""
    try:
        return list(importlib.import_module(module).routers)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return []
        raise


routers = [
    admin_router,
    analytics_admin_router,
    emergency_admin_router,
    agent_router,
    command_router,
    emergency_router,
    agent_client_router,
    instance_router,
    analytics_router,
    alerts_router,
    notification_router,
    *_optional_routers("spectra.spot.pricing.routes"),
    *_optional_routers("spectra.spot.decisions.routes"),
    *_optional_routers("spectra.spot.training.routes"),
]
