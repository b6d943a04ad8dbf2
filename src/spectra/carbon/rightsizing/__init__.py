"""Rightsizing: smaller or larger instance types from measured utilisation."""
