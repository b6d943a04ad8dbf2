"""Carbon periodic jobs (each sub-package declares its own; importing them registers them)."""

from spectra.carbon.anomalies.tasks import detect_anomalies
from spectra.carbon.automation.tasks import run_automation
from spectra.carbon.budgets.tasks import budget_thresholds
from spectra.carbon.emissions.tasks import compute_emissions
from spectra.carbon.migrations.tasks import fail_stalled_migrations
from spectra.carbon.optimizer.tasks import refresh_latency
from spectra.carbon.rightsizing.tasks import refresh_recommendations

__all__ = [
    "budget_thresholds",
    "compute_emissions",
    "detect_anomalies",
    "fail_stalled_migrations",
    "refresh_latency",
    "refresh_recommendations",
    "run_automation",
]

# Carbon-aware scheduling: start, finish and re-plan scheduled jobs.
from spectra.carbon.scheduling.tasks import refresh_scheduled_jobs

__all__ += ["refresh_scheduled_jobs"]
