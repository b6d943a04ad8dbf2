"""Routers of training datasets and decision performance (collected by spectra.spot.routes)."""

from spectra.spot.training.router import router

routers = [router]
