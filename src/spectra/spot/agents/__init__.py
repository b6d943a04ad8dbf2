"""Spot: agents."""
