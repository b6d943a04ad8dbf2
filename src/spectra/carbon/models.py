"""Every ORM model of the carbon domain, so the registry (and Alembic) sees them all."""

from spectra.carbon.actions.models import OptimizationAction
from spectra.carbon.anomalies.models import Anomaly, AnomalyDetectorState, AnomalySuppression
from spectra.carbon.automation.models import AutomationNotice, AutomationPolicy
from spectra.carbon.migrations.models import MigrationAction
from spectra.carbon.optimizer.models import LatencyMetric
from spectra.carbon.rightsizing.models import RightsizingRecommendation

__all__ = [
    "Anomaly",
    "AnomalyDetectorState",
    "AnomalySuppression",
    "AutomationNotice",
    "AutomationPolicy",
    "LatencyMetric",
    "MigrationAction",
    "OptimizationAction",
    "RightsizingRecommendation",
]

# Accounting: stored emissions and team budgets.
from spectra.carbon.budgets.models import BudgetNotice, TeamBudget  # noqa: F401
from spectra.carbon.emissions.models import (  # noqa: F401
    EmissionRollupDay,
    EmissionRollupMonth,
    InstanceEmissionDay,
    InstanceEmissionMonth,
)

# Grid carbon intensity per zone and hour.
from spectra.carbon.intensity.models import CarbonIntensityHour  # noqa: F401

# Carbon-aware scheduled jobs.
from spectra.carbon.scheduling.models import ScheduledJob  # noqa: F401
