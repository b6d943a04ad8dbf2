"""The `Inputs` a request works with (the platform's; tests may override `get_inputs`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from spectra.carbon.optimizer.inputs import Inputs


def get_inputs() -> Inputs:
    from spectra.carbon.optimizer.platform_inputs import PlatformInputs

    return PlatformInputs()


InputsDep = Annotated[Inputs, Depends(get_inputs)]
