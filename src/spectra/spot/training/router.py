"""Training datasets (create, list, download) and decision performance, for operators (admin token)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query, Response, status

from spectra.core.auth import AdminDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.spot.training import service
from spectra.spot.training.models import MLTrainingDataset
from spectra.spot.training.schemas import DatasetIn, DatasetOut, PerformanceOut

router = APIRouter(prefix="/api/admin", tags=["spot: model registry"], responses=PROBLEM_RESPONSES)


def _out(dataset: MLTrainingDataset) -> DatasetOut:
    out = DatasetOut.model_validate(dataset)
    out.download_url = f"/api/admin/ml-training-datasets/{dataset.id}/download"
    return out


@router.post("/ml-training-datasets", response_model=DatasetOut, status_code=status.HTTP_201_CREATED)
def create_dataset(body: DatasetIn, admin: AdminDep, session: SessionDep) -> DatasetOut:
    """Export the canonical price layer of a window, with lifecycle labels, as the next version of `name`."""
    dataset = service.create_dataset(
        session,
        name=body.name,
        start=body.start,
        end=body.end,
        regions=body.regions,
        instance_types=body.instance_types,
        label_horizon_hours=body.label_horizon_hours,
        notes=body.notes,
        actor=admin.actor,
        now=clock.now(),
    )
    return _out(dataset)


@router.get("/ml-training-datasets", response_model=list[DatasetOut])
def list_datasets(
    admin: AdminDep,
    session: SessionDep,
    name: str | None = Query(default=None, max_length=120),
    limit: int = Query(default=50, ge=1, le=500),
) -> list[DatasetOut]:
    """Training datasets, newest first."""
    return [_out(d) for d in service.list_datasets(session, name, limit)]


@router.get("/ml-training-datasets/{dataset_id}", response_model=DatasetOut)
def get_dataset(dataset_id: str, admin: AdminDep, session: SessionDep) -> DatasetOut:
    return _out(service.get_dataset(session, dataset_id))


@router.get(
    "/ml-training-datasets/{dataset_id}/download",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}, "description": "gzip-compressed CSV"}},
)
def download_dataset(dataset_id: str, admin: AdminDep, session: SessionDep) -> Response:
    """The dataset file (gzip-compressed CSV); `X-Content-SHA256` is the digest recorded at export."""
    dataset = service.get_dataset(session, dataset_id, with_content=True)
    return Response(
        content=dataset.content,
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{service.file_name(dataset)}"',
            "X-Content-SHA256": dataset.sha256,
        },
    )


@router.get("/ml-models/performance", response_model=PerformanceOut)
def decision_performance(
    admin: AdminDep,
    session: SessionDep,
    model_id: str | None = Query(default=None, description="Decisions of this uploaded model; '' = builtin only"),
    engine: str | None = Query(default=None, max_length=80),
    start: datetime | None = Query(default=None, description="Default: 7 days before end"),
    end: datetime | None = Query(default=None, description="Default: now"),
    horizon_hours: float = Query(default=6.0, gt=0, le=24 * 14),
) -> PerformanceOut:
    """How logged decisions did against the prices that followed them (see the `method` field)."""
    now = clock.now()
    end = end or now
    start = start or end - timedelta(days=7)
    result = service.performance(
        session, model_id=model_id, engine=engine, start=start, end=end, horizon_hours=horizon_hours, now=now
    )
    return PerformanceOut.model_validate(result)
