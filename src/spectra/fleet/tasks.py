"""Fleet periodic jobs."""

from spectra.fleet.instances.tasks import aws_costs, aws_inventory

__all__ = ["aws_costs", "aws_inventory"]
