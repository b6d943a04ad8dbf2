"""CCF emissions engine against hand-worked examples (constants written out, checked to 0.1 %)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from spectra.carbon.emissions.coefficients import (
    PUE_BY_PROVIDER,
    coefficients_for,
    embodied_g_per_instance_hour,
    instance_coefficients,
    it_power_w,
    load_use_coefficients,
    memory_baseline_gb,
    platform_embodied_kg,
    pue_for,
)
from spectra.carbon.emissions.engine import InstanceSpecs, compute_hourly, compute_totals, effective_utilisation

REL = 1e-3  # 0.1 %
CCF_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "carbon_coefficients" / "ccf" / "output"

# m5.large on Skylake in an AWS region: 2 vCPU, 8 GiB; the m5 platform is 96 vCPU, 384 GiB, 2 sockets.
M5_MEMORY_BASELINE = 81.32 * 2 * 2 / 96  # SPECpower GB/chip × chips × vCPU share = 3.3883 GB
M5_EMBODIED_KG = 1000 + (384 - 16) * 533 / 384 + 100  # base + DRAM above 16 GB + second socket = 1610.79
M5_EMBODIED_G_H = M5_EMBODIED_KG * 1000 / (4 * 8760) * 2 / 96  # = 0.9578 g per instance-hour


def m5_large(zone: int = 0, embodied: float = M5_EMBODIED_G_H) -> InstanceSpecs:
    return InstanceSpecs.build(
        vcpu=[2],
        memory_gib=[8],
        min_watts_per_vcpu=[0.65],
        max_watts_per_vcpu=[4.26],
        memory_baseline_gib=[M5_MEMORY_BASELINE],
        pue=[1.135],
        zone_index=[zone],
        embodied_g_per_hour=[embodied],
    )


def test_ccf_constants() -> None:
    assert PUE_BY_PROVIDER == {"aws": 1.135, "gcp": 1.1, "azure": 1.185}
    assert pue_for("AWS") == 1.135
    with pytest.raises(ValueError):
        pue_for("oracle")
    skylake = coefficients_for("Skylake")
    assert (skylake.min_watts, skylake.max_watts, skylake.gb_per_chip) == (0.65, 4.26, 81.32)
    unknown = coefficients_for("Graviton9", "aws")  # CCF falls back to the provider average
    assert (unknown.min_watts, unknown.max_watts) == (0.74, 3.5)
    assert coefficients_for(None, "azure").max_watts == 3.76


def test_embodied_formula_by_hand() -> None:
    assert platform_embodied_kg(384, platform_cpus=2) == pytest.approx(1610.79, rel=REL)
    # a1 platform: 32 GB, one socket → 1000 + 16 × 533/384 = 1022.21 kg (CCF's published a1 total).
    assert platform_embodied_kg(32) == pytest.approx(1022.21, rel=REL)
    assert platform_embodied_kg(16, ssd_count=2, hdd_count=1, gpu_count=8) == pytest.approx(1000 + 200 + 50 + 1200)
    assert embodied_g_per_instance_hour(M5_EMBODIED_KG, 2, 96) == pytest.approx(0.9578, rel=REL)
    assert memory_baseline_gb(2, 81.32, 96, 2) == pytest.approx(3.3883, rel=REL)
    with pytest.raises(ValueError):
        embodied_g_per_instance_hour(1000, 2, 0)


def test_m5_large_hour_at_50_percent_matches_hand_calculation() -> None:
    cpu_w = 2 * (0.65 + 0.5 * (4.26 - 0.65))  # 4.91 W
    memory_w = (8 - M5_MEMORY_BASELINE) * 0.392  # 1.8078 W above the SPECpower baseline (3.3883 GB)
    kwh = (cpu_w + memory_w) * 1.135 / 1000  # 0.0076248 kWh
    result = compute_hourly(m5_large(), np.array([[400.0, 100.0]]))
    assert result.kwh[0, 0] == pytest.approx(0.0076248, rel=REL)
    assert result.kwh[0, 0] == pytest.approx(kwh, rel=1e-9)
    assert result.location_g[0].tolist() == pytest.approx([kwh * 400, kwh * 100], rel=1e-9)
    assert result.location_g[0, 0] == pytest.approx(3.0499, rel=REL)
    assert result.market_g[0, 0] == result.location_g[0, 0]  # no market data → location-based
    assert result.embodied_g[0].tolist() == pytest.approx([0.9578, 0.9578], rel=REL)
    assert result.scope1_g.sum() == 0.0


def test_utilisation_idle_full_and_missing() -> None:
    util = np.array([[0.0, 1.0, np.nan]])
    result = compute_hourly(m5_large(), np.full((1, 3), 1000.0), utilisation=util)
    memory_w = (8 - M5_MEMORY_BASELINE) * 0.392
    expected = [(2 * w + memory_w) * 1.135 for w in (0.65, 4.26, 0.65 + 0.5 * 3.61)]  # Wh = g at 1000 g/kWh
    assert result.location_g[0].tolist() == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="fraction"):
        effective_utilisation(np.array([1.5]), 1, 1)


def test_burstable_has_no_memory_term_and_memory_below_baseline_adds_nothing() -> None:
    specs = InstanceSpecs.build(
        vcpu=[2, 2],
        memory_gib=[1, 2],
        min_watts_per_vcpu=0.74,
        max_watts_per_vcpu=3.5,
        memory_baseline_gib=[np.inf, 3.0],
        pue=1.135,
        zone_index=0,
    )
    result = compute_hourly(specs, np.array([[1000.0]]), utilisation=0.5)
    expected = 2 * (0.74 + 0.5 * (3.5 - 0.74)) * 1.135
    assert result.location_g[:, 0].tolist() == pytest.approx([expected, expected], rel=1e-9)


def test_market_based_uses_market_intensity_where_present_and_zones_are_routed() -> None:
    location = np.array([[300.0, 300.0], [50.0, 50.0]])
    market = np.array([[120.0, np.nan], [np.nan, np.nan]])
    specs = InstanceSpecs.build(
        vcpu=[2, 2],
        memory_gib=[8, 8],
        min_watts_per_vcpu=0.65,
        max_watts_per_vcpu=4.26,
        memory_baseline_gib=M5_MEMORY_BASELINE,
        pue=1.135,
        zone_index=[0, 1],
        scope1_g_per_hour=[0.0, 2.5],
    )
    result = compute_hourly(specs, location, market_intensity=market)
    kwh = result.kwh[0, 0]
    np.testing.assert_allclose(result.location_g, [[kwh * 300] * 2, [kwh * 50] * 2])
    np.testing.assert_allclose(result.market_g, [[kwh * 120, kwh * 300], [kwh * 50] * 2])
    assert result.scope1_g[1].tolist() == [2.5, 2.5]
    assert result.total_location_g[1, 0] == pytest.approx(kwh * 50 + 2.5)


def test_running_mask_and_totals_agree_with_hourly_matrices() -> None:
    rng = np.random.default_rng(3)
    n, hours = 37, 48
    specs = InstanceSpecs.build(
        vcpu=rng.integers(1, 64, n),
        memory_gib=rng.uniform(1, 256, n),
        min_watts_per_vcpu=0.65,
        max_watts_per_vcpu=4.26,
        memory_baseline_gib=rng.uniform(0, 50, n),
        pue=1.135,
        zone_index=rng.integers(0, 3, n),
        embodied_g_per_hour=rng.uniform(0.1, 5, n),
    )
    intensity = rng.uniform(20, 700, (3, hours))
    util = rng.uniform(0, 1, (n, hours))
    running = rng.uniform(size=(n, hours)) > 0.2
    hourly = compute_hourly(specs, intensity, utilisation=util, running=running)
    assert (hourly.kwh[~running] == 0).all() and (hourly.embodied_g[~running] == 0).all()
    totals = compute_totals(specs, intensity, utilisation=util, running=running, chunk_size=5)
    np.testing.assert_allclose(totals.location_g, hourly.location_g.sum(axis=1))
    np.testing.assert_allclose(totals.hourly_location_g, hourly.location_g.sum(axis=0))
    np.testing.assert_allclose(totals.embodied_g, hourly.embodied_g.sum(axis=1))
    np.testing.assert_array_equal(totals.instance_hours, running.sum(axis=1))
    scopes = totals.scopes_g()
    assert scopes["scope2_location"] == pytest.approx(hourly.location_g.sum())
    assert scopes["scope3_embodied"] == pytest.approx(hourly.embodied_g.sum())


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="zone_index points past"):
        compute_hourly(m5_large(zone=2), np.ones((1, 3)))
    with pytest.raises(ValueError, match="missing hours"):
        compute_hourly(m5_large(), np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="pue"):
        InstanceSpecs.build(vcpu=[1], memory_gib=[1], min_watts_per_vcpu=1, max_watts_per_vcpu=2, pue=0.9, zone_index=0)
    with pytest.raises(ValueError, match="watts"):
        InstanceSpecs.build(vcpu=[1], memory_gib=[1], min_watts_per_vcpu=3, max_watts_per_vcpu=2, pue=1, zone_index=0)


def test_coefficients_file_extends_the_table() -> None:
    text = ",Architecture,Min Watts,Max Watts,GB/Chip\n0,Ice Lake,0.5,3.0,120.0\n1,Skylake,0.6,4.0,80.0\n"
    table = load_use_coefficients(text)
    assert coefficients_for("Ice Lake", table=table).max_watts == 3.0
    assert coefficients_for("Skylake", table=table).min_watts == 0.6
    assert coefficients_for("Haswell", table=table).min_watts == 1.0  # kept from the built-in table
    with pytest.raises(ValueError, match="columns"):
        load_use_coefficients("a,b\n1,2\n")


@pytest.mark.skipif(not (CCF_DIR / "coefficients-aws-use.csv").exists(), reason="shared data absent")
def test_published_coefficients_file_loads() -> None:
    table = load_use_coefficients(CCF_DIR / "coefficients-aws-use.csv")
    graviton3 = coefficients_for("Graviton3", table=table)
    assert 0 < graviton3.min_watts < graviton3.max_watts


@dataclass
class Facts:
    vcpu: int
    memory_gib: float
    microarch: str | None
    burstable: bool = False
    gpus: int = 0
    storage_drives: int = 0
    storage_kind: str | None = None
    platform_vcpu: int | None = None
    platform_memory_gib: float | None = None
    platform_sockets: int | None = None


def test_instance_coefficients_from_type_facts_match_the_hand_example() -> None:
    m5 = Facts(2, 8, "Skylake", platform_vcpu=96, platform_memory_gib=384, platform_sockets=2)
    coef = instance_coefficients(m5)
    assert coef.memory_baseline_gib == pytest.approx(3.3883, rel=REL)
    assert coef.embodied_g_per_hour == pytest.approx(0.9578, rel=REL)
    assert it_power_w(m5, coef, 0.5) * 1.135 / 1000 == pytest.approx(0.0076248, rel=REL)
    t3 = Facts(2, 1, "Skylake", burstable=True, platform_vcpu=96, platform_memory_gib=384, platform_sockets=2)
    assert it_power_w(t3, instance_coefficients(t3), 0.0) == pytest.approx(2 * 0.65)
    # c5d.9xlarge-like: 36 of 96 vCPUs with one of the platform's local NVMe drives… scaled to the platform.
    c5d = Facts(
        36,
        72,
        "Skylake",
        storage_drives=1,
        storage_kind="NVMe SSD",
        platform_vcpu=96,
        platform_memory_gib=192,
        platform_sockets=2,
    )
    drives = round(1 / (36 / 96))  # 3 drives on the platform
    expected_kg = 1000 + (192 - 16) * 533 / 384 + 100 + drives * 100
    assert instance_coefficients(c5d).embodied_g_per_hour == pytest.approx(expected_kg * 1000 / 35040 * 36 / 96)
    unknown = instance_coefficients(Facts(4, 16, "Graviton9"), provider="azure")
    assert (unknown.min_watts_per_vcpu, unknown.microarch_known) == (0.78, False)
    # No platform known: the instance is a whole one-socket server of its own size.
    assert unknown.embodied_g_per_hour == pytest.approx(platform_embodied_kg(16) * 1000 / 35040)
