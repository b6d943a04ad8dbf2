"""Carbon periodic jobs (each sub-package declares its own; importing them registers them)."""

from spectra.carbon.budgets.tasks import budget_thresholds

__all__ = ["budget_thresholds"]
