"""Periodic jobs of the spot domain (each sub-package declares its own)."""

from spectra.spot.agents import tasks as agent_tasks
from spectra.spot.decisions import tasks as decision_tasks
from spectra.spot.pricing import tasks as pricing_tasks

__all__ = ["agent_tasks", "decision_tasks", "pricing_tasks"]
