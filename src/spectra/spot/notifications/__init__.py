"""Spot: notifications."""
