"""GET/PUT /api/settings: typed keys, secrets write-only and masked, tenant scoping, env fallback."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.core.models import AuditLog
from spectra.fleet.settings import service
from tests.factories import make_tenant

KEY = "em-live-key-0123456789abcd"


def test_admin_sets_a_secret_and_never_reads_it_back(client, db: Session, admin_headers) -> None:
    response = client.put("/api/settings", json={"global": {"electricitymaps_api_key": KEY}}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert KEY not in response.text
    shown = response.json()["global"]["electricitymaps_api_key"]
    assert shown == {"value": "••••abcd", "secret": True, "is_set": True, "source": "database"}
    again = client.get("/api/settings", headers=admin_headers)
    assert KEY not in again.text
    assert again.json()["global"]["electricitymaps_api_key"]["value"] == "••••abcd"

    assert service.secret(db, "electricitymaps_api_key") == KEY  # the provider code gets the real value
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "settings.update")).all()
    assert audit and all(KEY not in str(a.post_state) for a in audit)

    cleared = client.put("/api/settings", json={"global": {"electricitymaps_api_key": ""}}, headers=admin_headers)
    assert cleared.json()["global"]["electricitymaps_api_key"]["is_set"] is False
    assert service.secret(db, "electricitymaps_api_key") is None


def test_global_keys_fall_back_to_the_environment(client, db: Session, admin_headers, settings_env) -> None:
    settings_env(CLOUDFLARE_API_TOKEN="cf-token-from-env-9876", AWS_REGIONS="us-east-1,eu-west-1")
    body = client.get("/api/settings", headers=admin_headers).json()["global"]
    assert body["cloudflare_api_token"] == {
        "value": "••••9876",
        "secret": True,
        "is_set": True,
        "source": "environment",
    }
    assert body["aws_regions"]["value"] == ["us-east-1", "eu-west-1"]
    assert service.secret(db, "cloudflare_api_token") == "cf-token-from-env-9876"

    client.put("/api/settings", json={"global": {"aws_regions": ["ap-south-1"]}}, headers=admin_headers)
    assert service.global_value(db, "aws_regions") == ["ap-south-1"]


def test_clients_change_only_their_own_settings(client, db: Session, admin_headers) -> None:
    acme, globex = make_tenant(db), make_tenant(db)
    db.commit()
    mine = client.put("/api/settings", json={"client": {"scope1_co2e_kg_per_month": 120.5}}, headers=acme.headers)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["client_id"] == acme.id and body["global"] is None
    assert body["client"]["scope1_co2e_kg_per_month"]["value"] == 120.5
    assert body["client"]["default_utilisation"] == {"value": 0.5, "secret": False, "is_set": True, "source": "default"}

    assert (
        client.get("/api/settings", headers=globex.headers).json()["client"]["scope1_co2e_kg_per_month"]["value"] == 0
    )
    foreign = client.get("/api/settings", params={"client_id": globex.id}, headers=acme.headers)
    assert foreign.status_code == 404
    global_write = client.put("/api/settings", json={"global": {"aws_regions": ["us-east-1"]}}, headers=acme.headers)
    assert global_write.status_code == 403
    assert service.global_value(db, "aws_regions") == []

    as_admin = client.get("/api/settings", params={"client_id": acme.id}, headers=admin_headers).json()
    assert as_admin["client"]["scope1_co2e_kg_per_month"]["value"] == 120.5
    assert service.client_value(db, acme.id, "scope1_co2e_kg_per_month") == 120.5
    assert service.client_value(db, globex.id, "scope1_co2e_kg_per_month") == 0.0


def test_bad_settings_are_refused_and_change_nothing(client, db: Session, admin_headers) -> None:
    acme = make_tenant(db)
    db.commit()
    for body in (
        {"client": {"no_such_key": 1}},
        {"client": {"default_utilisation": 1.5}},
        {"client": {"budget_alert_pcts": []}},
        {"global": {"intensity_providers": ["carrier-pigeon"]}},
        {"global": {"aws_regions": ["us east 1"]}},
        {"client": {"scope1_co2e_kg_per_month": -1}},
    ):
        response = client.put("/api/settings", json=body, headers=admin_headers, params={"client_id": acme.id})
        assert response.status_code == 422, (body, response.text)
    admin_without_client = client.put(
        "/api/settings", json={"client": {"default_utilisation": 0.3}}, headers=admin_headers
    )
    assert admin_without_client.status_code == 400
    assert service.client_value(db, acme.id, "default_utilisation") == 0.5
    assert service.global_value(db, "intensity_providers") == ["electricitymaps", "watttime", "stored"]
