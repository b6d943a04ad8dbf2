"""Spot: the carbon domain's changes to AWS instances, carried out by the instances' agents."""
