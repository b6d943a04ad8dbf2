"""The anomaly job over fresh metrics: the shared detector + rules raise each kind once, resume from stored
state, and a dismissal teaches the detector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy.orm import Session

from spectra.capacity.detection import StreamingDetector
from spectra.carbon.anomalies import detection, repository, service
from spectra.carbon.optimizer.inputs import InstanceInfo, Series
from spectra.core.clock import clock
from tests.carbon.optimisation_fakes import BASE_TYPES, FakeInputs, power_w
from tests.factories import make_tenant

NOW = datetime(2026, 3, 10, 0, tzinfo=UTC)
STEP = 5 / 60  # 5-minute samples


def _cpu_with_runaway(rng: np.random.Generator, days: int = 4, hot: int = 36) -> Series:
    n = days * 288
    t = np.arange(n)
    normal = 25 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 2, n)
    values = np.concatenate([normal, np.full(hot, 96.0) + rng.normal(0, 1, hot)])
    return Series(NOW - timedelta(hours=STEP * values.size), STEP, values)


def _instance(fake: FakeInputs, client_id: str, iid: str) -> InstanceInfo:
    return fake.add_instance(
        InstanceInfo(iid, client_id, "team-1", "aws", "us-east-1", "m5.xlarge", "running", "simulated")
    )


def test_runaway_process_detected_once_with_impact(db: Session) -> None:
    tenant = make_tenant(db)
    fake = FakeInputs()
    clock.set_override(NOW)
    instance = _instance(fake, tenant.id, "i-hot")
    fake.cpu["i-hot"] = _cpu_with_runaway(np.random.default_rng(1))
    counts = detection.detect_all(db, fake, NOW)
    assert counts == {"instances": 1, "anomalies": 1, "skipped": 0}
    rows, total = service.list_anomalies(db, tenant.id, 10, 0)
    assert total == 1
    anomaly = rows[0]
    assert anomaly.kind == "runaway_process" and anomaly.team_id == "team-1" and anomaly.score >= 0.5
    assert anomaly.ended_at == NOW and anomaly.started_at == NOW - timedelta(hours=3)
    assert anomaly.evidence["hours"] == 3.0 and anomaly.evidence["peak"] > 95
    # Impact: extra watts of the abnormal load over 3 h × PUE 1.135 × 380 g/kWh (us-east-1 in the fake).
    mean, base = anomaly.evidence["mean"] / 100, anomaly.evidence["baseline_median"] / 100
    extra_w = power_w(BASE_TYPES[1], mean) - power_w(BASE_TYPES[1], base)
    assert anomaly.co2e_kg == pytest.approx(extra_w / 1000 * 3 * 1.135 * 380 / 1000, abs=1e-4)
    assert anomaly.cost_usd == pytest.approx(0.192 * 3 * (mean - base), abs=1e-3)
    # The detector state was saved: a second run over the same data scores nothing new and raises nothing.
    state = repository.detector_state(db, "cpu:i-hot")
    assert state is not None and state.last_at is not None
    seen = StreamingDetector.from_state(state.state).points_seen
    assert detection.detect_all(db, fake, NOW)["anomalies"] == 0
    assert StreamingDetector.from_state(repository.detector_state(db, "cpu:i-hot").state).points_seen == seen
    assert service.list_anomalies(db, tenant.id, 10, 0)[1] == 1
    assert instance.id == "i-hot"


def test_idle_waste_and_its_cost(db: Session) -> None:
    tenant = make_tenant(db)
    fake = FakeInputs()
    clock.set_override(NOW)
    _instance(fake, tenant.id, "i-idle")
    fake.cpu["i-idle"] = Series(NOW - timedelta(hours=48), 1.0, np.full(48, 1.5))
    detection.detect_all(db, fake, NOW)
    rows, _ = service.list_anomalies(db, tenant.id, 10, 0, kind="idle_waste")
    assert len(rows) == 1
    idle = rows[0]
    assert idle.evidence["hours"] == 48.0
    assert idle.cost_usd == pytest.approx(0.192 * 48)
    watts = power_w(BASE_TYPES[1], 0.015)
    assert idle.co2e_kg == pytest.approx(watts / 1000 * 1.135 * 380 * 48 / 1000, abs=1e-4)


def test_carbon_spike_from_the_emission_series(db: Session) -> None:
    tenant = make_tenant(db)
    fake = FakeInputs()
    clock.set_override(NOW)
    _instance(fake, tenant.id, "i-spike")
    rng = np.random.default_rng(3)
    hours = 24 * 20
    values = 100 + 20 * np.sin(2 * np.pi * np.arange(hours) / 24) + rng.normal(0, 3, hours)
    values = np.concatenate([values, [400.0, 420.0, 410.0]])
    fake.emissions["i-spike"] = Series(NOW - timedelta(hours=values.size), 1.0, values)
    detection.detect_all(db, fake, NOW)
    rows, _ = service.list_anomalies(db, tenant.id, 10, 0, kind="carbon_spike")
    assert len(rows) == 1
    spike = rows[0]
    assert spike.ended_at == NOW and spike.evidence["ratio"] > 2.5
    assert spike.co2e_kg == pytest.approx(spike.evidence["excess"] / 1000, abs=1e-4)


def test_dismissal_teaches_the_detector(db: Session) -> None:
    tenant = make_tenant(db)
    fake = FakeInputs()
    clock.set_override(NOW)
    _instance(fake, tenant.id, "i-hot")
    fake.cpu["i-hot"] = _cpu_with_runaway(np.random.default_rng(1))
    detection.detect_all(db, fake, NOW)
    anomaly = service.list_anomalies(db, tenant.id, 10, 0)[0][0]
    service.dismiss(db, anomaly, "nightly reindex")
    detector = StreamingDetector.from_state(repository.detector_state(db, "cpu:i-hot").state)
    assert len(detector.patterns) == 1
    pattern = detector.patterns[0]
    assert pattern.low < 95 < pattern.high and pattern.hours == [0, 21, 22, 23]
