"""GET/PATCH /api/instances: filters, paging, versioned edits and tenant isolation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.core.models import AuditLog
from tests.factories import make_team, make_tenant
from tests.fleet.factories import make_instance


def test_list_filters_and_pages(client, db: Session) -> None:
    acme = make_tenant(db, teams=("checkout", "search"))
    make_instance(db, acme, region="eu-west-1", tags={"team": "checkout"})
    make_instance(db, acme, region="eu-west-1", lifecycle="spot", tags={"team": "search"})
    make_instance(db, acme, region="us-east-1", state="stopped", tags={"team": "checkout"})
    db.commit()

    def ids(**params: object) -> int:
        response = client.get("/api/instances", params=params, headers=acme.headers)
        assert response.status_code == 200, response.text
        return response.json()["total"]

    assert ids() == 3
    assert ids(region="eu-west-1") == 2
    assert ids(lifecycle="spot") == 1
    assert ids(state="stopped") == 1
    assert ids(team="checkout") == 2
    assert ids(team="checkout", region="eu-west-1") == 1
    assert ids(provider="gcp") == 0

    page = client.get("/api/instances", params={"limit": 2, "offset": 2}, headers=acme.headers).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 2, 2, 1)


def test_team_filter_accepts_the_team_id(client, db: Session) -> None:
    acme = make_tenant(db)
    team = make_team(db, acme, "ml")
    make_instance(db, acme, tags={"team": "ml"})
    make_instance(db, acme)
    db.commit()
    body = client.get("/api/instances", params={"team": team.id}, headers=acme.headers).json()
    assert body["total"] == 1 and body["items"][0]["team_id"] == team.id


def test_clients_see_only_their_instances(client, db: Session, admin_headers) -> None:
    acme, globex = make_tenant(db), make_tenant(db)
    mine = make_instance(db, acme)
    theirs = make_instance(db, globex)
    db.commit()

    listed = client.get("/api/instances", headers=acme.headers).json()
    assert [i["id"] for i in listed["items"]] == [mine.id]
    assert client.get(f"/api/instances/{theirs.id}", headers=acme.headers).status_code == 404
    patch = client.patch(f"/api/instances/{theirs.id}", json={"version": 1, "flexible": True}, headers=acme.headers)
    assert patch.status_code == 404
    assert client.get("/api/instances", params={"client_id": globex.id}, headers=acme.headers).status_code == 404

    assert client.get("/api/instances", headers=admin_headers).json()["total"] >= 2
    scoped = client.get("/api/instances", params={"client_id": globex.id}, headers=admin_headers).json()
    assert [i["id"] for i in scoped["items"]] == [theirs.id]


def test_patch_changes_metadata_and_checks_the_version(client, db: Session) -> None:
    acme = make_tenant(db)
    team = make_team(db, acme, "data")
    instance = make_instance(db, acme)
    db.commit()

    url = f"/api/instances/{instance.id}"
    body = {"version": 1, "team_id": team.id, "flexible": True, "tags": {"env": "prod"}, "users_region": "eu-west-1"}
    response = client.patch(url, json=body, headers=acme.headers)
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["team_id"], out["flexible"], out["tags"], out["version"]) == (team.id, True, {"env": "prod"}, 2)
    assert out["users_region"] == "eu-west-1"

    stale = client.patch(url, json={"version": 1, "flexible": False}, headers=acme.headers)
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert client.get(url, headers=acme.headers).json()["flexible"] is True

    audit = db.scalars(select(AuditLog).where(AuditLog.entity_id == instance.id)).all()
    assert [a.action for a in audit] == ["instance.update"]
    assert audit[0].pre_state["flexible"] is False and audit[0].post_state["flexible"] is True


def test_patch_refuses_bad_input_and_changes_nothing(client, db: Session) -> None:
    acme, globex = make_tenant(db), make_tenant(db)
    foreign_team = make_team(db, globex, "theirs")
    instance = make_instance(db, acme)
    db.commit()
    url = f"/api/instances/{instance.id}"

    wrong_team = client.patch(url, json={"version": 1, "team_id": foreign_team.id}, headers=acme.headers)
    assert wrong_team.status_code == 422
    assert wrong_team.json()["errors"][0]["field"] == "team_id"
    bad_tags = client.patch(url, json={"version": 1, "tags": {"env": 3}}, headers=acme.headers)
    assert bad_tags.status_code == 422
    cloud_field = client.patch(url, json={"version": 1, "region": "eu-west-1"}, headers=acme.headers)
    assert cloud_field.status_code == 422
    null_flag = client.patch(url, json={"version": 1, "flexible": None}, headers=acme.headers)
    assert null_flag.status_code == 422

    after = client.get(url, headers=acme.headers).json()
    assert (after["version"], after["team_id"], after["tags"]) == (1, instance.team_id, {})
    assert after["region"] == "us-east-1"
