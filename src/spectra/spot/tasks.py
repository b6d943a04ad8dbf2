"""Periodic jobs of the spot domain: each sub-package declares its own, this module loads them all."""

from __future__ import annotations

import importlib

from spectra.spot.agents import tasks as agent_tasks

for _module in ("spectra.spot.pricing.tasks", "spectra.spot.decisions.tasks"):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise

__all__ = ["agent_tasks"]
