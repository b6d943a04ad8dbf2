"""Spot: commands."""
