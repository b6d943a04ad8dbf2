"""The anomaly job's work: score fresh metrics with the shared detector, apply the rules, raise anomalies.

Per running instance and per series (CPU %, emission rate, cost), the detector state is loaded from
the database, fed only the points after the last one it saw, and saved again, so every run resumes
where the previous stopped and a point is never scored twice. Idle waste is judged on the whole
recent window (it is a long-run property, not a surprise).
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from spectra.capacity.detection import DetectorConfig, StreamingDetector
from spectra.carbon.anomalies import repository, service
from spectra.carbon.anomalies.models import AnomalyDetectorState
from spectra.carbon.anomalies.rules import Finding, RuleConfig, find_idle, find_runaway, find_spikes
from spectra.carbon.optimizer import service as optimizer
from spectra.carbon.optimizer.inputs import Inputs, InstanceInfo, Series
from spectra.core.errors import SpectraError

FIRST_LOOKBACK = timedelta(days=30)
IDLE_LOOKBACK = timedelta(days=3)


def _daily_config() -> DetectorConfig:
    """Daily series (billed cost) have too few points for the default warm-up: learn from a month."""
    wanted = {
        "history": 90, "min_history": 7, "average_window": 1, "refractory": 2,
        "rarity_history": 365, "rarity_warmup": 14, "likelihood_history": 365, "likelihood_warmup": 14,
        "likelihood_learning": 7, "likelihood_refit": 7,
    }  # fmt: skip
    names = {f.name for f in fields(DetectorConfig)}
    return replace(DetectorConfig(), **{k: v for k, v in wanted.items() if k in names})


def _load(
    session: Session, series: str, client_id: str, step_hours: float
) -> tuple[AnomalyDetectorState, StreamingDetector]:
    row = repository.detector_state(session, series)
    if row is None:
        row = AnomalyDetectorState(series=series, client_id=client_id, last_at=None, state={})
        session.add(row)
    if row.state:
        detector = StreamingDetector.from_state(row.state)
    else:
        detector = StreamingDetector(_daily_config() if step_hours >= 24 else None)
    return row, detector


def _fresh(series: Series, last_at: datetime | None) -> tuple[int, np.ndarray, list[datetime]]:
    """Index of the first unseen point, the values and the timestamps."""
    step = timedelta(hours=series.step_hours)
    stamps = [series.start + step * i for i in range(series.values.size)]
    first = 0
    if last_at is not None:
        while first < len(stamps) and stamps[first] <= last_at:
            first += 1
    return first, series.values, stamps


def _score(
    session: Session, name: str, client_id: str, series: Series
) -> tuple[np.ndarray, list[datetime], int] | None:
    row, detector = _load(session, name, client_id, series.step_hours)
    first, values, stamps = _fresh(series, row.last_at)
    if first >= values.size:
        return None
    scores = np.zeros(values.size)
    for i in range(first, values.size):
        scores[i] = detector.update(float(values[i]), stamps[i].hour)
    row.state = detector.to_state()
    row.last_at = stamps[-1]
    return scores, stamps, first


def _span(stamps: list[datetime], finding: Finding, step_hours: float) -> tuple[datetime, datetime]:
    return stamps[finding.start], stamps[finding.end] + timedelta(hours=step_hours)


def _impact_runaway(
    inputs: Inputs, session: Session, instance: InstanceInfo, finding: Finding, footprint: dict[str, Any]
) -> tuple[float, float]:
    spec = inputs.instance_type(session, instance.instance_type, instance.region)
    if spec is None:
        return 0.0, 0.0
    baseline = finding.evidence.get("baseline_median") or 0.0
    mean = finding.evidence["mean"]
    hours = finding.evidence["hours"]
    excess_w = inputs.power_w(spec, mean / 100) - inputs.power_w(spec, baseline / 100)
    co2e = excess_w / 1000 * hours * footprint["pue"] * (footprint["intensity_g_per_kwh"] or 0.0) / 1000
    # On-demand billing does not follow CPU: the cost impact is the share of the bill the abnormal load used.
    cost = (spec.price_usd_per_hour or 0.0) * hours * max(0.0, mean - baseline) / 100
    return co2e, cost


def _impact_idle(
    inputs: Inputs, session: Session, instance: InstanceInfo, finding: Finding, footprint: dict[str, Any]
) -> tuple[float, float]:
    spec = inputs.instance_type(session, instance.instance_type, instance.region)
    if spec is None:
        return 0.0, 0.0
    hours = finding.evidence["hours"]
    watts = inputs.power_w(spec, finding.evidence["mean"] / 100)
    co2e = (watts / 1000 * footprint["pue"] * (footprint["intensity_g_per_kwh"] or 0.0)) * hours / 1000
    co2e += inputs.embodied_g_per_hour(spec) * hours / 1000
    return co2e, (spec.price_usd_per_hour or 0.0) * hours


def detect_instance(
    session: Session, inputs: Inputs, instance: InstanceInfo, now: datetime, cfg: RuleConfig = RuleConfig()
) -> list[str]:
    """Run every rule for one instance; returns the ids of anomalies raised or extended."""
    raised: list[str] = []
    footprint = optimizer.footprint_per_hour(session, inputs, instance.instance_type, instance.region, 0.5)

    def emit(finding: Finding, stamps: list[datetime], step: float, co2e: float, cost: float, band: Any) -> None:
        start, end = _span(stamps, finding, step)
        evidence = {**finding.evidence, "series_band": band, "step_hours": step}
        anomaly = service.raise_anomaly(
            session, client_id=instance.client_id, kind=finding.kind, score=finding.score, start=start, end=end,
            evidence=evidence, co2e_kg=co2e, cost_usd=cost, instance_id=instance.id, team_id=instance.team_id,
            region=instance.region,
        )  # fmt: skip
        if anomaly is not None:
            raised.append(anomaly.id)

    def band(values: np.ndarray, finding: Finding) -> list[float]:
        seg = values[finding.start : finding.end + 1]
        return [round(float(np.nanmin(seg)), 4), round(float(np.nanmax(seg)), 4)]

    cpu_row = repository.detector_state(session, f"cpu:{instance.id}")
    cpu_since = cpu_row.last_at if cpu_row is not None and cpu_row.last_at else now - FIRST_LOOKBACK
    cpu = inputs.cpu_series(session, instance.id, min(cpu_since, now - IDLE_LOOKBACK), now)
    scored = _score(session, f"cpu:{instance.id}", instance.client_id, cpu) if cpu.values.size else None
    if scored is not None:
        scores, stamps, first = scored
        for f in find_runaway(cpu.values, scores, cpu.step_hours, cfg):
            if f.end >= first:
                co2e, cost = _impact_runaway(inputs, session, instance, f, footprint)
                emit(f, stamps, cpu.step_hours, co2e, cost, band(cpu.values, f))
    if cpu.values.size and instance.state == "running":
        stamps = [cpu.start + timedelta(hours=cpu.step_hours) * i for i in range(cpu.values.size)]
        for f in find_idle(cpu.values, cpu.step_hours, cfg):
            co2e, cost = _impact_idle(inputs, session, instance, f, footprint)
            emit(f, stamps, cpu.step_hours, co2e, cost, band(cpu.values, f))

    for name, kind, fetch, unit in (
        ("co2e", "carbon_spike", inputs.emission_series, "gco2e_per_step"),
        ("cost", "cost_anomaly", inputs.cost_series, "usd_per_step"),
    ):
        row = repository.detector_state(session, f"{name}:{instance.id}")
        since = row.last_at if row is not None and row.last_at else now - FIRST_LOOKBACK
        series = fetch(session, instance.id, since - timedelta(days=1), now)
        if not series.values.size:
            continue
        scored = _score(session, f"{name}:{instance.id}", instance.client_id, series)
        if scored is None:
            continue
        scores, stamps, first = scored
        for f in find_spikes(kind, series.values, scores, series.step_hours, cfg, unit):
            if f.end < first:
                continue
            excess = max(0.0, float(f.evidence["excess"]))
            co2e, cost = (excess / 1000.0, 0.0) if kind == "carbon_spike" else (0.0, excess)
            emit(f, stamps, series.step_hours, co2e, cost, band(series.values, f))
    return raised


def detect_all(session: Session, inputs: Inputs, now: datetime, client_id: str | None = None) -> dict[str, int]:
    counts = {"instances": 0, "anomalies": 0, "skipped": 0}
    for instance in inputs.instances(session, client_id):
        if instance.state != "running":
            continue
        try:
            with session.begin_nested():  # one instance with bad reference data must not stop the others
                raised = detect_instance(session, inputs, instance, now)
        except (SpectraError, ValueError):
            counts["skipped"] += 1
            continue
        counts["instances"] += 1
        counts["anomalies"] += len(raised)
    session.flush()
    return counts
