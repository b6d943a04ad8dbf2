"""Region and instance-type reference tables: consistency and the processor → microarchitecture rules."""

from __future__ import annotations

import pytest

from spectra.fleet.reference import (
    INSTANCE_TYPES,
    INSTANCE_TYPES_BY_NAME,
    PROVIDER_PUE,
    REGIONS,
    REGIONS_BY_CODE,
    microarchitecture_of,
)


def test_regions_are_unique_and_well_formed() -> None:
    assert len(REGIONS) == len(REGIONS_BY_CODE) >= 40
    assert {r.provider for r in REGIONS} == {"aws", "gcp", "azure"}
    for region in REGIONS:
        assert -90 <= region.latitude <= 90 and -180 <= region.longitude <= 180, region.code
        assert len(region.country) == 2 and region.country.isupper(), region.code
        assert region.zone and region.zone == region.zone.strip(), region.code
        assert region.pue == PROVIDER_PUE[region.provider]
        if region.provider == "aws":
            assert region.price_multiplier is not None and 0.9 <= region.price_multiplier <= 2.0
        else:
            assert region.price_multiplier is None


def test_known_region_facts() -> None:
    frankfurt = REGIONS_BY_CODE["eu-central-1"]
    assert (frankfurt.country, frankfurt.zone, frankfurt.pue) == ("DE", "DE", 1.135)
    assert REGIONS_BY_CODE["us-west-1"].zone == "US-CAL-CISO"
    assert REGIONS_BY_CODE["europe-west9"].pue == 1.1
    assert REGIONS_BY_CODE["francecentral"].pue == 1.185
    assert REGIONS_BY_CODE["us-east-1"].price_multiplier == 1.0


def test_instance_types_are_consistent() -> None:
    assert len(INSTANCE_TYPES) == len(INSTANCE_TYPES_BY_NAME) >= 40
    for t in INSTANCE_TYPES:
        assert t.name.startswith(t.family + ".")
        assert t.vcpu <= t.platform.vcpu and t.memory_gib <= t.platform.memory_gib
        assert t.price_usd_per_hour > 0
        assert t.arch == ("arm64" if t.microarch.startswith("Graviton") else "x86_64")
    families = {t.family for t in INSTANCE_TYPES}
    assert {"m5", "m6i", "m7g", "c5", "c6i", "c7g", "r5", "r6i", "t3", "t4g"} <= families


def test_list_prices_and_regional_estimate() -> None:
    m5 = INSTANCE_TYPES_BY_NAME["m5.large"]
    assert (m5.vcpu, m5.memory_gib, m5.price_usd_per_hour) == (2, 8, 0.096)
    assert INSTANCE_TYPES_BY_NAME["m5.4xlarge"].price_usd_per_hour == pytest.approx(0.768)
    assert INSTANCE_TYPES_BY_NAME["c5.xlarge"].price_usd_per_hour == pytest.approx(0.17)
    t3 = INSTANCE_TYPES_BY_NAME["t3.micro"]
    assert (t3.vcpu, t3.memory_gib, t3.burstable, t3.price_usd_per_hour) == (2, 1.0, True, 0.0104)
    assert INSTANCE_TYPES_BY_NAME["t4g.large"].price_usd_per_hour == pytest.approx(0.0672)
    assert INSTANCE_TYPES_BY_NAME["r6g.large"].memory_gib == 16
    assert m5.price_in("us-east-1") == 0.096
    assert m5.price_in("sa-east-1") == pytest.approx(0.096 * 1.594)
    assert m5.price_in("europe-west1") is None and m5.price_in("nowhere-1") is None


@pytest.mark.parametrize(
    ("processor", "expected"),
    [
        ("Intel Xeon Platinum 8175", "Skylake"),
        ("Intel Xeon Platinum 8259CL", "Cascade Lake"),
        ("Intel Xeon 8375C (Ice Lake)", "Ice Lake"),
        ("Intel Xeon Scalable (Icelake)", "Ice Lake"),
        ("Intel Xeon Platinum 8488C", "Sapphire Rapids"),
        ("Intel Xeon E5-2686 v4 (Broadwell)", "Broadwell"),
        ("Intel Xeon E5-2676v3", "Haswell"),
        ("Intel Xeon E5-2670 v2", "Ivy Bridge"),
        ("Intel Xeon E5-2670", "Sandy Bridge"),
        ("Intel Skylake E5 2686 v5", "Skylake"),
        ("Intel Core i7-8700B CPU", "Coffee Lake"),
        ("AMD EPYC 7571", "EPYC 1st Gen"),
        ("AMD EPYC 7R32", "EPYC 2nd Gen"),
        ("AMD EPYC 7R13 Processor", "EPYC 3rd Gen"),
        ("AMD EPYC 9R14", "EPYC 4th Gen"),
        ("AWS Graviton2 Processor", "Graviton2"),
        ("AWS Graviton3 Processor", "Graviton3"),
        ("Intel Xeon Family", None),
        ("Variable", None),
        ("", None),
        (None, None),
    ],
)
def test_microarchitecture_of(processor: str | None, expected: str | None) -> None:
    assert microarchitecture_of(processor) == expected
