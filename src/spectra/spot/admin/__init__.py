"""Spot: admin."""
