"""Routers of the pricing pipeline (collected by spectra.spot.routes)."""

from spectra.spot.pricing.router import router

routers = [router]
