"""Spot: instances."""
