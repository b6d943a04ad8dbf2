"""Spot: emergency."""
