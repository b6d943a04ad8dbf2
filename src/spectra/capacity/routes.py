from spectra.capacity.router import router

routers = [router]
