"""Emissions: the CCF engine, the stored per-instance days and their roll-up."""
