"""Spot start-up: carry out the carbon domain's changes to AWS instances through the instances' agents."""

from spectra.spot.carbon_actions import tasks as carbon_action_tasks


def startup() -> None:
    carbon_action_tasks.register()
