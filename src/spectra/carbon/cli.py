"""`spectra import intensity FILE … [--zone Z]`: load carbon-intensity CSVs into the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Carbon imports.", no_args_is_help=True)


@app.callback()
def imports() -> None:
    """Import carbon data (a group, so more importers can join it)."""


@app.command("intensity")
def import_intensity(
    files: Annotated[
        list[Path], typer.Argument(exists=True, help="Electricity Maps exports, Time,Carbon Intensity series, folders")
    ],
    zone: Annotated[str | None, typer.Option(help="Zone of Time,Carbon Intensity series (e.g. DE)")] = None,
) -> None:
    """Import every file as one batch: a bad row anywhere is reported and nothing is stored."""
    from spectra import registry
    from spectra.carbon.intensity import service
    from spectra.core.db import session_scope
    from spectra.core.errors import Unprocessable

    registry.load_models()
    try:
        paths: list[Path] = []
        for path in files:
            paths.extend(service.csv_files_in(path) if path.is_dir() else [path])
        with session_scope() as session:
            summary = service.import_files(session, service.read_sources(paths), zone)
    except Unprocessable as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        for error in exc.extra.get("errors", [])[:20]:
            where = f"{error.get('file', '')}:{error.get('line', '')} [{error.get('column', error.get('field', ''))}]"
            typer.echo(f"  {where} {error['msg']}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(summary))
