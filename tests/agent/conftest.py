"""Fixtures shared by the agent tests: a tenant on the live server, and AWS mocked by moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from spectra.core.db import session_scope
from tests.factories import Tenant, make_tenant


@pytest.fixture()
def tenant(live_server) -> Tenant:
    with session_scope() as session:
        return make_tenant(session)


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield
