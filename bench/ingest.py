"""Metric ingest throughput: points per second through `POST /api/metrics` on a live server against the raw
driver's `executemany` of the same rows into the same raw points table, in the same run and database; and the
roll-up job that builds the 5-minute and hourly tiers from them afterwards.

    python bench/ingest.py [--series FILE ...] [--batches 40] [--batch-size 1000] [--resources 50]
                           [--concurrency 4] [--rounds 4] [--database-url URL] [--out bench/results]

Spectra's side is everything an agent's batch goes through: HTTP, the bearer token, validation of every point,
the batch's resources (created on first sight), de-duplication against stored points, the raw points (stamped
with the time they were stored), one transaction per batch. The baseline is what the issue defines: per batch,
one `executemany` INSERT of the same rows into `capacity_metric_points` (same indexes, same column defaults,
same connection settings), with the times parsed and the resources' keys looked up, one transaction per batch;
no HTTP, no validation. The two sides alternate in `--rounds` rounds (each writes its share of every round) so
drifting load on the machine hits both alike; the server is warmed up with one batch first.

The roll-ups are not written by ingest but by the `capacity.rollups` job, so the work is not hidden: after each
round (once its points have settled, as they would have by the job's next scheduled run) the job is run through
the server's job runner (`POST /api/admin/jobs/capacity.rollups/run`, each run one transaction) until it has
caught up, and timed. It rolls up every point of the table, the baseline's too; its throughput is points rolled
up per second, and the end-to-end ratio charges Spectra's side with its share of that time: raw seconds /
(ingest seconds + roll-up seconds × Spectra's points / points rolled up).

Points: with `--series`, NAB-format CSV files (`timestamp,value`) replayed, one file per resource (cycling
through the files when there are more resources), as `cpu` when every value of the file is a percentage and as
`network_in` otherwise; without, synthetic cpu and memory points 5 minutes apart. Either way each batch holds
the next points in time order of all resources, as agents reporting together send them.

Last line: one JSON object (points per second of each side and their ratio, the roll-up job's points per second
and the end-to-end ratio). A Markdown report and a plot go to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from _report import markdown_table, save_plot, write_outputs
from _server import ROOT, database_url, run_setup, serve, spectra_env

START = datetime(2026, 1, 5, tzinfo=UTC)
TARGET_RATIO = 0.5
ROLLUP_JOB = "capacity.rollups"
# Longer than the roll-up job's settling time (spectra.capacity.service.ROLLUP_SETTLE): by a scheduled run, a
# round's points have settled and are read once, as a chunk, not as "the newest points" read again next run.
SETTLE_SECONDS = 1.5

SETUP = """
import json
from spectra.capacity.models import Resource
from spectra.core.db import session_scope
from spectra.fleet import service
from spectra.fleet.schemas import ClientCreate
with session_scope() as s:
    # Named per run, so the benchmark can run again against the same database.
    client, token = service.create_client(s, ClientCreate(name="ingest-bench RUN", teams=["ops"]))
    baseline, _ = service.create_client(s, ClientCreate(name="ingest-bench-baseline RUN", teams=["ops"]))
    s.flush()
    # The baseline writes into the same table, for resources of its own (the raw points reference a resource).
    resources = [Resource(client_id=baseline.id, resource_id=rid, provider="agent") for rid in RESOURCE_IDS]
    s.add_all(resources)
    s.flush()
    keys = {r.resource_id: r.id for r in resources}
    print(json.dumps({"client_id": client.id, "baseline_id": baseline.id, "token": token, "baseline_keys": keys}))
"""

CHECK = """
import json
from sqlalchemy import func, select
from spectra.capacity.models import MetricPoint, MetricRollup, Resource
from spectra.core.db import session_scope
with session_scope(read_only=True) as s:
    mine = select(Resource.id).where(Resource.client_id == CLIENT_ID)
    points = s.scalar(select(func.count(MetricPoint.id)).where(MetricPoint.resource_pk.in_(mine)))
    counted = dict(s.execute(select(MetricRollup.resolution, func.sum(MetricRollup.count))
                             .where(MetricRollup.resource_pk.in_(mine)).group_by(MetricRollup.resolution)).all())
    both = select(Resource.id).where(Resource.client_id.in_([CLIENT_ID, BASELINE_ID]))
    everything = s.scalar(select(func.count(MetricPoint.id)).where(MetricPoint.resource_pk.in_(both)))
    print(json.dumps({"points": points, "rolled_up": {k: int(v) for k, v in counted.items()}, "all": everything}))
"""


# --------------------------------------------------------------------------- the points


def synthetic_series(resources: int) -> list[tuple[str, str, list[tuple[datetime, float]]]]:
    """cpu and memory of each resource, every 5 minutes, a daily wave with some noise (percentages)."""
    out = []
    for r in range(resources):
        for m, metric in enumerate(("cpu", "memory")):
            values = []
            for k in range(2000):
                wave = 40 + 25 * ((k + 37 * r) % 288) / 288 + 10 * m
                values.append((START + timedelta(minutes=5 * k), round(wave + (k * 7919 + r * 31) % 13, 3)))
            out.append((f"vm-{r:04d}", metric, values))
    return out


def read_series(path: Path) -> list[tuple[datetime, float]]:
    """A NAB-format file: `timestamp,value` rows, times in UTC."""
    rows = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            ts = datetime.fromisoformat(row["timestamp"].strip()).replace(tzinfo=UTC)
            rows.append((ts, float(row["value"])))
    return rows


def file_series(files: list[Path], resources: int) -> list[tuple[str, str, list[tuple[datetime, float]]]]:
    loaded = [(path, read_series(path)) for path in files]
    out = []
    for r in range(resources):
        path, values = loaded[r % len(loaded)]
        metric = "cpu" if all(0.0 <= v <= 100.0 for _, v in values) else "network_in"
        out.append((f"vm-{r:04d}-{path.stem}"[:128], metric, values))
    return out


def batches(
    series: list[tuple[str, str, list[tuple[datetime, float]]]], count: int, size: int
) -> list[list[dict[str, Any]]]:
    """`count` batches of `size` points: step k of every series, then step k + 1, ... (series wrap around their
    end shifted by their length, so points stay distinct however many are asked for)."""
    points: list[dict[str, Any]] = []
    step = 0
    while len(points) < count * size:
        for resource_id, metric, values in series:
            ts, value = values[step % len(values)]
            laps = step // len(values)
            if laps:
                ts += (values[-1][0] - values[0][0] + timedelta(minutes=5)) * laps
            points.append({"resource_id": resource_id, "metric": metric, "ts": ts.isoformat(), "value": value})
        step += 1
    return [points[i * size : (i + 1) * size] for i in range(count)]


# --------------------------------------------------------------------------- the two sides


async def post_batches(
    url: str, token: str, work: list[list[dict[str, Any]]], concurrency: int
) -> tuple[float, list[float], int]:
    """Seconds to post every batch with `concurrency` clients, per-batch latencies, failed batches."""
    # Bodies encoded before the clock starts: the client's JSON encoder is not what is measured.
    bodies = [json.dumps({"points": batch}).encode() for batch in work]
    queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
    for body, batch in zip(bodies, work, strict=True):
        queue.put_nowait((body, len(batch)))
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(headers=headers, timeout=120) as http:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                body, size = queue.get_nowait()
                t0 = time.perf_counter()
                response = await http.post(url, content=body)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200 or response.json()["accepted"] != size:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, errors


def roll_up(base: str) -> tuple[float, int, int]:
    """Run the roll-up job through the server's job runner until it has caught up: seconds, points it read, runs."""
    from _server import ADMIN_TOKEN

    seconds, points, runs = 0.0, 0, 0
    with httpx.Client(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=600) as http:
        while True:
            t0 = time.perf_counter()
            response = http.post(f"{base}/api/admin/jobs/{ROLLUP_JOB}/run")
            seconds += time.perf_counter() - t0
            run = response.json()
            if response.status_code != 200 or run["status"] != "succeeded":
                raise RuntimeError(f"the roll-up job failed: {response.text[:2000]}")
            points += run["result"]["points"]
            runs += 1
            if run["result"]["complete"]:
                return seconds, points, runs
            if run["result"]["caught_up"]:
                time.sleep(SETTLE_SECONDS)


def raw_inserter(url: str, keys: dict[str, str]) -> tuple[Callable[[list[dict[str, Any]]], None], Callable[[], None]]:
    """The baseline: the driver's executemany on a connection with Spectra's own settings (the same engine
    factory, so SQLite has the same WAL, synchronous and foreign-key pragmas)."""
    from spectra.capacity.repository import sqlite_time
    from spectra.core.db import make_engine

    engine = make_engine(url)
    connection = engine.raw_connection()
    sqlite = url.startswith("sqlite")
    sql = (
        "INSERT INTO capacity_metric_points (resource_pk, metric, ts, value) VALUES (?, ?, ?, ?)"
        if sqlite
        else "INSERT INTO capacity_metric_points (resource_pk, metric, ts, value) VALUES (%s, %s, %s, %s)"
    )

    def insert(batch: list[dict[str, Any]]) -> None:
        rows = []
        for p in batch:
            ts = datetime.fromisoformat(p["ts"])
            rows.append((keys[p["resource_id"]], p["metric"], sqlite_time(ts) if sqlite else ts, p["value"]))
        cursor = connection.cursor()
        if sqlite:
            # Spectra's SQLite connections are in autocommit mode and open write transactions like this.
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(sql, rows)
            cursor.execute("COMMIT")
        else:
            cursor.executemany(sql, rows)
            connection.commit()
        cursor.close()

    def close() -> None:
        connection.close()
        engine.dispose()

    return insert, close


# --------------------------------------------------------------------------- run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=Path, nargs="*", default=[], help="NAB-format CSV files to replay")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--resources", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--database-url", default=None, help="an empty or Spectra-migrated database; default: a fresh SQLite file"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    series = file_series(args.series, args.resources) if args.series else synthetic_series(args.resources)
    work = batches(series, args.batches + 1, args.batch_size)
    warm_up, work = work[0], work[1:]
    resource_ids = sorted({resource_id for resource_id, _, _ in series})

    url = database_url(args.database_url, "ingest")
    env = spectra_env(url)
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    ids = run_setup(SETUP.replace("RESOURCE_IDS", json.dumps(resource_ids)).replace("RUN", run), env)
    insert, close = raw_inserter(url, ids["baseline_keys"])
    rounds = max(1, min(args.rounds, len(work)))
    per_round: list[dict[str, float]] = []
    latencies: list[float] = []
    errors = 0
    try:
        with serve("spectra.app:create_app", env, factory=True) as base:
            endpoint = f"{base}/api/metrics"
            # Start-up work (route tables, connection pool, token cache) is not what is measured.
            _, _, warm_errors = asyncio.run(post_batches(endpoint, ids["token"], [warm_up], 1))
            if warm_errors:
                raise RuntimeError("the warm-up batch was refused")
            for r in range(rounds):
                share = work[r * len(work) // rounds : (r + 1) * len(work) // rounds]
                points = sum(len(b) for b in share)
                timings: dict[str, float] = {"points": points}
                # Which side goes first alternates, so neither always meets the other's checkpoint or cache.
                for side in ("bare", "spectra") if r % 2 == 0 else ("spectra", "bare"):
                    if side == "bare":
                        t0 = time.perf_counter()
                        for batch in share:
                            insert(batch)
                        timings["bare_seconds"] = time.perf_counter() - t0
                    else:
                        seconds, lat, errs = asyncio.run(post_batches(endpoint, ids["token"], share, args.concurrency))
                        timings["spectra_seconds"] = seconds
                        latencies += lat
                        errors += errs
                time.sleep(SETTLE_SECONDS)  # not timed: the job's next scheduled run comes later than this
                rollup_seconds, rolled, runs = roll_up(base)
                timings.update(rollup_seconds=rollup_seconds, rolled_points=rolled, rollup_runs=runs)
                per_round.append(timings)
    finally:
        close()
    check = run_setup(
        CHECK.replace("CLIENT_ID", repr(ids["client_id"])).replace("BASELINE_ID", repr(ids["baseline_id"])), env
    )

    points = sum(int(r["points"]) for r in per_round)
    spectra_seconds = sum(r["spectra_seconds"] for r in per_round)
    bare_seconds = sum(r["bare_seconds"] for r in per_round)
    rollup_seconds = sum(r["rollup_seconds"] for r in per_round)
    rolled = sum(int(r["rolled_points"]) for r in per_round)
    # The job reads each point once here (every round's points have settled before it runs), the warm-up batch's
    # in the first round: Spectra's share of its time is its share of the points it rolled up.
    spectra_rollup_seconds = rollup_seconds * (points + args.batch_size) / rolled
    expected = points + args.batch_size  # the warm-up batch counts too
    latencies.sort()
    result = {
        "benchmark": "ingest",
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "points": points,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "data": [p.name for p in args.series] or "synthetic",
        "spectra_points_per_second": round(points / spectra_seconds, 1),
        "bare_points_per_second": round(points / bare_seconds, 1),
        "ratio": round(bare_seconds / spectra_seconds, 3),
        "round_ratios": [round(r["bare_seconds"] / r["spectra_seconds"], 3) for r in per_round],
        "target_ratio": TARGET_RATIO,
        "rollup_points_per_second": round(rolled / rollup_seconds, 1),
        "rollup_runs": sum(int(r["rollup_runs"]) for r in per_round),
        "points_read_per_point_stored": round(rolled / check["all"], 3),
        "end_to_end_ratio": round(bare_seconds / (spectra_seconds + spectra_rollup_seconds), 3),
        "spectra_p50_batch_ms": round(statistics.median(latencies) * 1000, 1),
        "spectra_p99_batch_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 1),
        "errors": errors,
        # Every posted point stored once and counted once in each roll-up tier (by the job).
        "stored_and_rolled_up": check["points"] == expected
        and all(check["rolled_up"].get(tier) == expected for tier in ("5m", "1h")),
    }
    report(args, result, per_round)
    print(json.dumps(result))


def report(args: argparse.Namespace, result: dict[str, Any], per_round: list[dict[str, float]]) -> None:
    rows = [
        [
            i + 1,
            int(r["points"]),
            r["points"] / r["spectra_seconds"],
            r["points"] / r["bare_seconds"],
            r["bare_seconds"] / r["spectra_seconds"],
            r["rolled_points"] / r["rollup_seconds"],
        ]
        for i, r in enumerate(per_round)
    ]
    plotted = save_plot(
        args.out / "ingest.png",
        lambda ax: (
            ax.bar([r[0] - 0.27 for r in rows], [r[2] for r in rows], width=0.27, label="POST /api/metrics"),
            ax.bar([r[0] for r in rows], [r[3] for r in rows], width=0.27, label="raw executemany"),
            ax.bar([r[0] + 0.27 for r in rows], [r[5] for r in rows], width=0.27, label="roll-up job"),
            ax.set_xlabel("round"),
            ax.set_ylabel("points per second"),
            ax.set_title(f"Metric ingest on {result['database']}: ratio {result['ratio']}"),
            ax.legend(),
        ),
    )
    data = ", ".join(p.name for p in args.series) if args.series else "synthetic cpu and memory, 5 minutes apart"
    markdown = (
        "# Metric ingest\n\n"
        f"{result['points']:,} points ({data}) in batches of {args.batch_size} on {result['database']}; "
        f"Spectra's side posted by {args.concurrency} concurrent clients to a live server.\n\n"
        "- **POST /api/metrics**: HTTP, bearer token, validation of every point, the batch's resources, "
        "de-duplication, raw points, one transaction per batch.\n"
        "- **raw executemany**: the same rows into the same raw points table with the driver's executemany "
        "(times parsed, resource keys looked up), one transaction per batch.\n"
        "- **roll-up job**: `capacity.rollups` run through the server's job runner after each round until caught "
        "up; it recomputes the 5-minute and hourly buckets the round's points (both sides') fall in from the raw "
        "points. Points rolled up per second.\n\n"
        + markdown_table(["round", "points", "Spectra points/s", "raw points/s", "ratio", "roll-up points/s"], rows)
        + f"\n\n**Ratio {result['ratio']}** (target ≥ {TARGET_RATIO}); end to end, with Spectra's share of the "
        f"roll-up job's time, **{result['end_to_end_ratio']}**. Roll-up job: {result['rollup_points_per_second']:,} "
        f"points/s in {result['rollup_runs']} runs, each point read {result['points_read_per_point_stored']} times. "
        f"p50 batch {result['spectra_p50_batch_ms']} ms, p99 {result['spectra_p99_batch_ms']} ms; failed batches: "
        f"{result['errors']}; every point stored and rolled up once: {result['stored_and_rolled_up']}.\n"
        + ("\n![ingest](ingest.png)\n" if plotted else "")
    )
    write_outputs(args.out, "ingest", result, markdown)


if __name__ == "__main__":
    main()
