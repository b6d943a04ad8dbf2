from spectra.carbon.actions.router import router as actions_router
from spectra.carbon.anomalies.router import router as anomalies_router
from spectra.carbon.automation.router import router as automation_router
from spectra.carbon.migrations.router import router as migrations_router
from spectra.carbon.optimizer.router import admin_router as latency_admin_router
from spectra.carbon.optimizer.router import router as optimizer_router
from spectra.carbon.rightsizing.router import router as rightsizing_router

routers = [
    rightsizing_router,
    optimizer_router,
    latency_admin_router,
    migrations_router,
    actions_router,
    anomalies_router,
    automation_router,
]

# Accounting: budgets, dashboard, reports.
from spectra.carbon.budgets.router import router as budgets_router  # noqa: E402
from spectra.carbon.dashboard.router import router as dashboard_router  # noqa: E402
from spectra.carbon.emissions.router import router as emissions_admin_router  # noqa: E402
from spectra.carbon.reports.router import router as reports_router  # noqa: E402

routers += [budgets_router, dashboard_router, reports_router, emissions_admin_router]

# Carbon intensity: a region's hours, admin import, forecast and back-test.
from spectra.carbon.intensity.router import router as intensity_router  # noqa: E402

routers.append(intensity_router)

# Carbon-aware scheduling: /api/scheduler/jobs.
from spectra.carbon.scheduling.router import router as scheduling_router  # noqa: E402

routers.append(scheduling_router)
