"""Spot: analytics."""
