"""Where the platform finds each domain's models, routes, jobs, seed data and start-up hooks.

Domains are listed lowest first (the direction imports point); each may provide `models`, `routes`
(with `routers`), `tasks` (@job functions), `seed` (`seed(session, reset)`), and `startup` (`startup()`).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

DOMAINS = ["fleet", "capacity", "carbon", "spot"]


def _optional(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module or (exc.name and module.startswith(exc.name + ".")):
            return None
        raise


def domain_modules(role: str) -> list[ModuleType]:
    out = []
    for domain in DOMAINS:
        module = _optional(f"spectra.{domain}.{role}")
        if module is not None:
            out.append(module)
    return out


def load_models() -> None:
    importlib.import_module("spectra.core.models")
    domain_modules("models")


def load_routers() -> list[Any]:
    """Highest domain first: a higher domain extends a lower one's resources with literal sub-paths
    (carbon's /api/instances/recommendations beside fleet's /api/instances/{id}), which must be tried first."""
    routers: list[Any] = []
    for module in reversed(domain_modules("routes")):
        routers.extend(module.routers)
    return routers


def load_tasks() -> None:
    importlib.import_module("spectra.core.jobs")
    domain_modules("tasks")


def run_startup_hooks() -> None:
    for module in domain_modules("startup"):
        module.startup()
