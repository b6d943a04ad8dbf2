"""`spectra import instance-types FILE`: load an ec2instances.info export into the catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Fleet imports.", no_args_is_help=True)


@app.callback()
def imports() -> None:
    """Import files into the fleet catalogue (a group, so more importers can join it)."""


@app.command("instance-types")
def import_instance_types(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="ec2instances.info CSV export")],
    region: Annotated[
        str | None, typer.Option(help="Region of the prices (default: from the export's Availability Zones)")
    ] = None,
) -> None:
    """Import every instance type and its prices; nothing is stored if any cell is bad."""
    from spectra import registry
    from spectra.core.db import session_scope
    from spectra.core.errors import Unprocessable
    from spectra.fleet.catalog import service

    registry.load_models()
    try:
        with session_scope() as session:
            summary = service.import_catalog_file(session, file, region)
    except Unprocessable as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        for error in exc.extra.get("errors", [])[:20]:
            typer.echo(f"  {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(summary))
