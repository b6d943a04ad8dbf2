"""Rightsizing rules on hand-made catalogues and a linear (CCF-shaped) power model."""

from __future__ import annotations

import pytest

from spectra.carbon.rightsizing.engine import Policy, TypeSpec, Utilisation, recommend

CATALOG = [
    TypeSpec("m5.large", 2, 8, "x86_64", 0.096),
    TypeSpec("m5.xlarge", 4, 16, "x86_64", 0.192),
    TypeSpec("m5.2xlarge", 8, 32, "x86_64", 0.384),
    TypeSpec("m5.4xlarge", 16, 64, "x86_64", 0.768),
    TypeSpec("c5.xlarge", 4, 8, "x86_64", 0.17),
    TypeSpec("m6g.large", 2, 8, "arm64", 0.077),
    TypeSpec("t3.nano", 2, 0.5, "x86_64", 0.0052),
]
BY_NAME = {t.name: t for t in CATALOG}


def power(spec: TypeSpec, util: float) -> float:
    # CCF shape: per vCPU min 0.74 W + util × (3.5 − 0.74) W, plus 0.392 W per GiB above 0.
    return spec.vcpu * (0.74 + util * (3.5 - 0.74)) + 0.392 * spec.memory_gib


def _usage(cpu: float, mem: float | None, mean: float | None = None) -> Utilisation:
    return Utilisation(cpu_p95=cpu, memory_p95=mem, cpu_mean=mean, samples=288, window_hours=24)


def test_downsize_within_family_by_hand() -> None:
    # m5.2xlarge at p95 CPU 20 %: needs 8 × 20 / 70 = 2.29 vCPU; memory 25 % of 32 → 10 GiB at 80 %.
    rec = recommend(BY_NAME["m5.2xlarge"], _usage(20, 25, mean=10), CATALOG, power=power,
                    intensity_g_per_kwh=400, pue=1.135)  # fmt: skip
    assert rec.action == "downsize"
    assert rec.recommended is not None and rec.recommended.name == "m5.xlarge"
    assert rec.scope == "same_family"
    assert rec.required_vcpu == pytest.approx(8 * 20 / 70)
    assert rec.required_memory_gib == pytest.approx(32 * 25 / 80)
    assert rec.monthly_cost_savings_usd == pytest.approx((0.384 - 0.192) * 730, abs=0.01)
    # Same CPU work: 10 % of 8 vCPU = 20 % of 4 vCPU.
    watts_now = 8 * (0.74 + 0.10 * 2.76) + 0.392 * 32
    watts_new = 4 * (0.74 + 0.20 * 2.76) + 0.392 * 16
    assert rec.current_power_w == pytest.approx(watts_now, abs=0.01)
    assert rec.recommended_power_w == pytest.approx(watts_new, abs=0.01)
    expected_kg = (watts_now - watts_new) / 1000 * 730 * 1.135 * 400 / 1000
    assert rec.monthly_co2e_savings_kg == pytest.approx(expected_kg, abs=0.001)


def test_memory_need_blocks_a_cpu_only_shrink() -> None:
    # CPU would fit in 2 vCPU but memory 70 % of 16 GiB = 14 GiB at 80 % → needs 16 GiB.
    rec = recommend(BY_NAME["m5.xlarge"], _usage(15, 70), CATALOG)
    assert rec.action == "keep"


def test_compatible_family_when_cheaper_and_same_architecture() -> None:
    # Only CPU matters (memory tiny): c5.xlarge is not smaller; m5.large fits and is cheapest x86.
    rec = recommend(BY_NAME["m5.4xlarge"], _usage(10, 5), CATALOG)
    assert rec.recommended is not None
    # needs 16 × 10 / 70 = 2.29 vCPU → 4 vCPU types; m5.xlarge 0.192 vs c5.xlarge 0.17 (8 GiB ≥ 4 GiB).
    assert rec.recommended.name == "c5.xlarge"
    assert rec.scope == "compatible"


def test_architecture_change_only_when_allowed() -> None:
    rec = recommend(BY_NAME["m5.xlarge"], _usage(10, 20), CATALOG)
    assert rec.recommended is not None and rec.recommended.name == "m5.large"
    rec_arm = recommend(BY_NAME["m5.xlarge"], _usage(10, 20), CATALOG, Policy(allow_architecture_change=True))
    assert rec_arm.recommended is not None and rec_arm.recommended.name == "m6g.large"


def test_upsize_when_saturated() -> None:
    rec = recommend(BY_NAME["m5.large"], _usage(97, 50), CATALOG)
    # needs 2 × 97 / 70 = 2.77 vCPU and 8 × 50 / 80 = 5 GiB → 4 vCPU: m5.xlarge $0.192 in the family,
    # c5.xlarge $0.17 is 11% cheaper (over the 10% bar); savings are negative (it costs more).
    assert rec.action == "upsize"
    assert rec.recommended is not None and rec.recommended.name == "c5.xlarge"
    assert rec.monthly_cost_savings_usd == pytest.approx(-(0.17 - 0.096) * 730, abs=0.01)
    family_only = recommend(BY_NAME["m5.large"], _usage(97, 50), CATALOG, Policy(other_family_min_saving_pct=20))
    assert family_only.recommended is not None and family_only.recommended.name == "m5.xlarge"


def test_keep_in_the_comfortable_band() -> None:
    rec = recommend(BY_NAME["m5.xlarge"], _usage(60, 50), CATALOG)
    assert rec.action == "keep" and rec.monthly_cost_savings_usd == 0.0


def test_too_few_samples() -> None:
    rec = recommend(BY_NAME["m5.xlarge"], Utilisation(5, 5, samples=3, window_hours=1), CATALOG)
    assert rec.action == "insufficient_data"
    assert rec.recommended is None


def test_no_burstable_target_for_a_steady_instance() -> None:
    catalog = [*CATALOG, TypeSpec("t3.large", 2, 8, "x86_64", 0.0832, burstable=True)]
    rec = recommend(BY_NAME["m5.xlarge"], _usage(10, 20), catalog)
    assert rec.recommended is not None and rec.recommended.name == "m5.large"
    burst = TypeSpec("t3.xlarge", 4, 16, "x86_64", 0.1664, burstable=True)
    rec_t3 = recommend(burst, _usage(10, 20), [*catalog, burst])
    assert rec_t3.recommended is not None and rec_t3.recommended.name == "t3.large"


def test_smallest_already_keeps() -> None:
    catalog = [TypeSpec("m5.large", 2, 8, "x86_64", 0.096)]
    rec = recommend(catalog[0], _usage(5, 10), catalog)
    assert rec.action == "keep"
