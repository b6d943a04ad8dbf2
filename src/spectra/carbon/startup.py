"""Carbon start-up: re-plan scheduled jobs when new intensity is imported. (People hear about automation,
anomalies and budgets through the platform's alert routing, which follows this domain's events.)"""

from spectra.carbon.scheduling import tasks as scheduling_tasks


def startup() -> None:
    scheduling_tasks.register()
