from spectra.carbon.actions.router import router as actions_router
from spectra.carbon.anomalies.router import router as anomalies_router

routers = [actions_router, anomalies_router]
