"""Pricing pipeline endpoints: consolidation job status (v6) and price file imports (operators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status

from spectra.core.auth import AdminDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES, Unprocessable
from spectra.spot.pricing import backfill, service
from spectra.spot.pricing.schemas import BackfillIn, BackfillOut, ConsolidationJobOut, ImportKind, ImportOut

router = APIRouter(prefix="/api/admin", tags=["spot: pricing"], responses=PROBLEM_RESPONSES)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@router.get("/consolidation-jobs", response_model=list[ConsolidationJobOut])
def list_consolidation_jobs(
    _admin: AdminDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status_filter: Annotated[str | None, Query(alias="status", pattern="^(running|succeeded|failed)$")] = None,
) -> list[ConsolidationJobOut]:
    """Pricing consolidation runs, newest first: window, row counts per tier, duplicates, interpolations, errors."""
    return [ConsolidationJobOut.model_validate(job) for job in service.list_jobs(session, limit, status_filter)]


@router.post("/consolidation-jobs", response_model=ConsolidationJobOut, status_code=status.HTTP_201_CREATED)
def run_consolidation(_admin: AdminDep, session: SessionDep) -> ConsolidationJobOut:
    """Run the consolidation now over everything staged since the last successful run."""
    return ConsolidationJobOut.model_validate(service.run_consolidation(session, clock.now(), trigger="manual"))


@router.post("/pricing/import", response_model=ImportOut, status_code=status.HTTP_201_CREATED)
def import_prices(
    _admin: AdminDep,
    session: SessionDep,
    file: Annotated[
        UploadFile, File(description="describe-spot-price-history CSV/TSV/JSON, advisor JSON or price CSV")
    ],
    kind: Annotated[ImportKind, Form()] = "price-history",
    region: Annotated[str | None, Form(description="on-demand tables only: the region the prices are for")] = None,
    consolidate: Annotated[bool, Form(description="price history: consolidate right away")] = True,
) -> ImportOut:
    """Import a price file. Bad rows are reported all at once (file, line or index, field) and nothing is stored."""
    raw = file.file.read(MAX_UPLOAD_BYTES + 1)
    name = file.filename or "upload"
    if len(raw) > MAX_UPLOAD_BYTES:
        raise Unprocessable("file too large", [{"field": "file", "msg": f"more than {MAX_UPLOAD_BYTES} bytes"}])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unprocessable("file is not UTF-8 text", [{"field": "file", "msg": str(exc)}]) from None
    return service.import_text(session, kind, text, name, clock.now(), region=region, consolidate_now=consolidate)


@router.post("/pricing/backfill", response_model=BackfillOut)
def backfill_prices(body: BackfillIn, _admin: AdminDep, session: SessionDep) -> BackfillOut:
    """Fill the staging tier from EC2 `describe_spot_price_history` for a region's instance types over a period
    (idempotent: rows already staged are skipped). Needs AWS credentials (settings or the standard chain)."""
    summary = backfill.backfill(session, body.region, body.instance_types, body.start, body.end, clock.now())
    return BackfillOut.model_validate(summary)
