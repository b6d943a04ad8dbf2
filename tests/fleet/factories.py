"""Fleet factories: instances through the real upsert the inventory sources use."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from spectra.fleet.instances import service as instance_service
from spectra.fleet.instances.models import Instance
from spectra.fleet.instances.schemas import InstanceSync
from tests.factories import Tenant

_seq = itertools.count(1)
LAUNCHED = datetime(2024, 1, 1, tzinfo=UTC)


def make_instance(session: Session, tenant: Tenant, **fields: Any) -> Instance:
    data: dict[str, Any] = {
        "provider": "aws",
        "provider_id": f"i-{next(_seq):017x}",
        "region": "us-east-1",
        "instance_type": "m5.large",
        "launched_at": LAUNCHED,
    }
    data.update(fields)
    instance, _ = instance_service.upsert_instance(session, tenant.id, InstanceSync(**data))
    return instance
