"""Carbon-intensity routes: a region's hours, the admin import, the forecast and its back-test."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from spectra.carbon.intensity import providers, service
from spectra.carbon.intensity.schemas import (
    BacktestOut,
    ForecastOut,
    ImportOut,
    ImportPathIn,
    LiveIntensityOut,
    RegionCarbonOut,
    ZoneCoverageOut,
)
from spectra.core.auth import AdminDep, CallerDep
from spectra.core.config import get_settings
from spectra.core.db import SessionDep, session_scope
from spectra.core.errors import PROBLEM_RESPONSES, Unprocessable
from spectra.fleet.catalog import service as catalog_service

router = APIRouter(prefix="/api", tags=["carbon intensity"], responses=PROBLEM_RESPONSES)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@router.get("/regions/{code}/carbon", response_model=RegionCarbonOut)
def region_carbon(
    code: Annotated[str, Path(min_length=2, max_length=40)],
    _caller: CallerDep,
    session: SessionDep,
    start: datetime | None = None,
    end: datetime | None = None,
) -> RegionCarbonOut:
    """Stored hourly intensity of the region's grid zone for start ≤ hour < end (default: the last 24 h)."""
    return RegionCarbonOut.model_validate(service.region_carbon(session, code, start, end))


@router.get("/carbon/intensity/zones", response_model=list[ZoneCoverageOut])
def list_zones(_caller: CallerDep, session: SessionDep) -> list[ZoneCoverageOut]:
    """Zones with stored intensity: how many hours, first and last."""
    return [ZoneCoverageOut.model_validate(z) for z in service.zones(session)]


@router.get("/scheduler/forecast", response_model=ForecastOut)
def forecast(
    _caller: CallerDep,
    session: SessionDep,
    zone: Annotated[str | None, Query(max_length=40)] = None,
    region: Annotated[str | None, Query(max_length=40, description="Instead of zone: the region's zone")] = None,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
) -> ForecastOut:
    """Hourly intensity forecast from now, made from the zone's stored hours up to now (mean ± std)."""
    chosen = service.zone_for(session, zone, region)
    out = ForecastOut.model_validate(service.forecast_zone(session, chosen, hours))
    out.region = region
    return out


@router.get("/carbon/intensity/backtest", response_model=BacktestOut)
def backtest(
    _caller: CallerDep,
    session: SessionDep,
    start: datetime,
    end: datetime,
    zone: Annotated[str | None, Query(max_length=40)] = None,
    region: Annotated[str | None, Query(max_length=40)] = None,
    horizon: Annotated[int, Query(ge=1, le=72)] = 24,
    step: Annotated[int, Query(ge=1, le=168, description="Hours between forecast origins")] = 24,
) -> BacktestOut:
    """Forecasts made at past times in start … end against what happened, with the seasonal-naive baseline."""
    chosen = service.zone_for(session, zone, region)
    return BacktestOut.model_validate(service.backtest_zone(session, chosen, start, end, horizon, step))


def _import_sources(files: list[service.SourceFile], zone: str | None, region: str | None) -> dict[str, Any]:
    """One transaction: intensity files together, or one instance-type export (routed by its header)."""
    with session_scope() as session:
        catalogs = [f for f in files if catalog_service.looks_like_catalog(f.data[:2000].decode("utf-8", "ignore"))]
        if catalogs:
            if len(files) > 1:
                raise Unprocessable(
                    "import an instance-type export on its own", errors=[{"field": "file", "msg": "one file"}]
                )
            source = catalogs[0]
            catalog = catalog_service.parse_catalog(source.data, source.name, region)
            summary = catalog_service.import_catalog(session, catalog, source.name)
            return {
                "kind": "instance-types",
                "files": [source.name],
                "rows": summary["types"],
                "instance_types": summary,
            }
        summary = service.import_files(session, files, zone)
        return {"kind": "intensity", "files": summary["files"], "rows": summary["rows"], "zones": summary["zones"]}


async def _uploaded(request: Request) -> tuple[list[service.SourceFile], str | None, str | None]:
    form = await request.form()
    files = []
    for key, value in form.multi_items():
        if key != "file":
            continue
        if isinstance(value, str):
            raise Unprocessable("`file` must be an uploaded file", errors=[{"field": "file", "msg": "not a file"}])
        data = await value.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise Unprocessable("file too large", errors=[{"field": "file", "msg": f"over {MAX_UPLOAD_BYTES} bytes"}])
        files.append(service.SourceFile(value.filename or "upload.csv", data))
    if not files:
        raise Unprocessable("no file uploaded", errors=[{"field": "file", "msg": "required"}])
    zone = form.get("zone")
    region = form.get("region")
    return (
        files,
        zone if isinstance(zone, str) and zone else None,
        region if isinstance(region, str) and region else None,
    )


@router.post(
    "/admin/import",
    response_model=ImportOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": ImportPathIn.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "zone": {"type": "string"},
                            "region": {"type": "string"},
                        },
                        "required": ["file"],
                    }
                },
            }
        }
    },
)
async def admin_import(request: Request, _admin: AdminDep) -> ImportOut:
    """Import Electricity Maps / `Time,Carbon Intensity` CSVs or an ec2instances.info export (admin).

    Multipart: one or more `file` parts (+ `zone` for plain series, `region` for an export without
    zones). JSON `{"path": ...}`: a file or folder on the server; no body: every *.csv of
    SPECTRA_CSV_DIR. All or nothing: a bad row anywhere is reported (file, line, column) and nothing
    is stored. Existing zone-hours are replaced.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        files, zone, region = await _uploaded(request)
    else:
        raw = await request.body()
        try:
            body = ImportPathIn.model_validate_json(raw) if raw.strip() else ImportPathIn()
        except ValueError as exc:
            raise Unprocessable("invalid JSON body", errors=[{"field": "body", "msg": str(exc)[:300]}]) from None
        target = FilePath(body.path) if body.path else get_settings().csv_dir
        paths = service.csv_files_in(target) if target.is_dir() else [target]
        files = await run_in_threadpool(service.read_sources, paths)
        zone, region = body.zone, body.region
    result = await run_in_threadpool(_import_sources, files, zone, region)
    return ImportOut.model_validate(result)


@router.get("/carbon/intensity/live", response_model=LiveIntensityOut)
def live_intensity(zone: str, _: CallerDep, session: SessionDep) -> LiveIntensityOut:
    """The zone's current intensity from the live providers in their configured order (Electricity Maps, WattTime),
    falling back to the latest stored hour; says which answered and why the others did not."""
    answer = providers.live_intensity(session, zone)
    item = answer["intensity"]
    return LiveIntensityOut(
        zone=item.zone,
        g_per_kwh=round(item.g_per_kwh, 2),
        at=item.at,
        provider=item.provider,
        estimated=item.estimated,
        detail=item.detail,
        cached=answer["cached"],
        tried=answer["tried"],
    )
