"""Shared by the HTTP benchmarks: the environment a benchmarked Spectra runs with, a set-up step run in a child
process against the benchmark's database, and a uvicorn server on a free loopback port, started and stopped.

Servers run in their own process (as in production), so the benchmark's client does not share their GIL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "spx_adm_bench-admin-token-000000000000000000000000"


def database_url(given: str | None, name: str) -> str:
    """The --database-url given, or a fresh SQLite file."""
    return given or f"sqlite:///{Path(tempfile.mkdtemp()) / f'{name}.db'}"


def spectra_env(url: str, **extra: str) -> dict[str, str]:
    """Spectra's settings for a benchmark: this database, a known admin token, no scheduler, no collectors."""
    return {
        **os.environ,
        "SPECTRA_DATABASE_URL": url,
        "SPECTRA_ADMIN_TOKEN": ADMIN_TOKEN,
        "SPECTRA_RUN_SCHEDULER": "false",
        "SPECTRA_LOG_LEVEL": "warning",
        "SPECTRA_METRICS_PROVIDER": "none",
        **extra,
    }


def run_setup(code: str, env: dict[str, str]) -> dict[str, Any]:
    """Migrate the database to head, then run `code` (Python that prints one JSON object last) in a child process
    with Spectra's models loaded; returns that object."""
    prelude = (
        "from spectra.core import migrate\nmigrate.upgrade()\nfrom spectra import registry\nregistry.load_models()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark set-up failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: str, env: dict[str, str], *, factory: bool = False, timeout: float = 60.0) -> Iterator[str]:
    """Run `app` ("module:attribute") under uvicorn in a child process; yields its base URL once it answers."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning", "--no-access-log"]
    if factory:
        argv.append("--factory")
    # stderr to a file, not a pipe nobody reads while the benchmark runs (a full pipe would stall the server)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    httpx.get(f"{base}/", timeout=1)
                    break
                except httpx.HTTPError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"{app} did not start:\n{log.read().decode()[-3000:]}") from None
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
