from spectra.carbon.actions.router import router as actions_router

routers = [actions_router]
