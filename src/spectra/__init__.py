"""Spectra: a control plane for the cost, carbon and capacity of cloud fleets."""

__version__ = "0.1.0"
