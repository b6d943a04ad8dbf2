"""`spectra spot …`: import price files and Spot Advisor snapshots, run the consolidation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

spot_app = typer.Typer(help="Spot optimiser: price imports and the pricing pipeline.", no_args_is_help=True)


def _session_ready() -> None:
    from spectra import registry
    from spectra.core import migrate

    registry.load_models()
    migrate.upgrade()


def _import(kind: str, path: Path, region: str | None = None, consolidate: bool = True) -> None:
    from spectra.core.clock import clock
    from spectra.core.db import session_scope
    from spectra.core.errors import Unprocessable
    from spectra.spot.pricing import service

    _session_ready()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"{path}: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        with session_scope() as session:
            out = service.import_text(
                session, kind, text, path.name, clock.now(), region=region, consolidate_now=consolidate
            )
    except Unprocessable as exc:
        typer.echo(exc.detail, err=True)
        for error in exc.extra.get("errors", []):
            typer.echo(f"  {json.dumps(error)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(out.model_dump_json(indent=2))


@spot_app.command("import-prices")
def import_prices(
    files: Annotated[list[Path], typer.Argument(help="describe-spot-price-history files (CSV, TSV, JSON)")],
    consolidate: Annotated[bool, typer.Option(help="Consolidate after importing")] = True,
) -> None:
    """Stage spot price history (idempotent: a row already imported is skipped) and consolidate it."""
    for path in files:
        _import("price-history", path, consolidate=consolidate)


@spot_app.command("import-advisor")
def import_advisor(path: Annotated[Path, typer.Argument(help="Spot Instance Advisor JSON snapshot")]) -> None:
    """Load interruption buckets and savings per region, OS and instance type."""
    _import("spot-advisor", path)


@spot_app.command("import-on-demand")
def import_on_demand(
    path: Annotated[Path, typer.Argument(help="ec2instances.info CSV export")],
    region: Annotated[str, typer.Option(help="The region these list prices are for")],
) -> None:
    """Load on-demand list prices per instance type and OS for one region."""
    _import("on-demand", path, region=region)


@spot_app.command("consolidate")
def consolidate_now() -> None:
    """Run the pricing consolidation now (what the periodic job does)."""
    from spectra.core.clock import clock
    from spectra.core.db import session_scope
    from spectra.spot.pricing import service
    from spectra.spot.pricing.schemas import ConsolidationJobOut

    _session_ready()
    with session_scope() as session:
        job = service.run_consolidation(session, clock.now(), trigger="manual")
        typer.echo(ConsolidationJobOut.model_validate(job).model_dump_json(indent=2))
    if job.status != "succeeded":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(spot_app, name="spot")
