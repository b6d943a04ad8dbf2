"""Routers of the decision side (collected by spectra.spot.routes)."""

from spectra.spot.decisions.router import admin_router, router

routers = [router, admin_router]
