"""Carbon start-up: tell people about automatic actions on the configured channels."""

from spectra.carbon.automation import notifications


def startup() -> None:
    notifications.register()
