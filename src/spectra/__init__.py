"""Spectra: a control plane for the cost, carbon and capacity of cloud fleets."""
