"""Carbon start-up: tell people about automatic actions on the configured channels; re-plan scheduled
jobs when new intensity is imported."""

from spectra.carbon.automation import notifications
from spectra.carbon.scheduling import tasks as scheduling_tasks


def startup() -> None:
    notifications.register()
    scheduling_tasks.register()
