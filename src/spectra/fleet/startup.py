"""Fleet start-up: plug client-token resolution into the platform's auth."""

from spectra.core.auth import register_client_token_resolver
from spectra.fleet.service import resolve_client_token


def startup() -> None:
    register_client_token_resolver(resolve_client_token)
