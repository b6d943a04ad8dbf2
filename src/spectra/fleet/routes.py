from spectra.fleet.instances.router import router as instances_router
from spectra.fleet.router import admin_router, client_router, team_router
from spectra.fleet.settings.router import router as settings_router

routers = [admin_router, client_router, team_router, instances_router, settings_router]

from spectra.fleet.catalog.router import router as catalog_router  # noqa: E402

routers.append(catalog_router)
