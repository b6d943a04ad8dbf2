"""Region ranking: hand-worked scores, constraints, explanations."""

from __future__ import annotations

import pytest

from spectra.carbon.optimizer.ranking import Constraints, RegionOption, Weights, Window, rank_regions


def _option(code: str, intensity: float | None, latency: float | None, price: float | None, **kw) -> RegionOption:
    return RegionOption(
        code=code,
        name=code.upper(),
        provider=kw.get("provider", "aws"),
        country=kw.get("country", "DE"),
        zone=kw.get("zone", code),
        pue=kw.get("pue", 1.0),
        intensity_g_per_kwh=intensity,
        latency_ms=latency,
        latency_source="modelled",
        price_usd_per_hour=price,
        price_source="on-demand",
    )


OPTIONS = [
    _option("a", 400.0, 10.0, 0.10),  # dirty, close, cheap
    _option("b", 100.0, 50.0, 0.20),  # clean, far, dear
    _option("c", 250.0, 30.0, 0.15),  # middle on everything
]
WINDOW = Window(hours=10, it_energy_kwh=2.0)


def test_hand_worked_scores() -> None:
    ranking = rank_regions(OPTIONS, WINDOW, Weights(carbon=0.5, latency=0.2, cost=0.3), current_region="a")
    by_code = {r.code: r for r in ranking.ranked}
    # a: carbon worst (1), latency best (0), cost best (0) → 100 × (1 − 0.5) = 50
    assert by_code["a"].score == pytest.approx(50.0)
    # b: carbon best, latency worst, cost worst → 100 × (1 − 0.2 − 0.3) = 50
    assert by_code["b"].score == pytest.approx(50.0)
    # c: all 0.5 → 50 as well: the weights are balanced so every option ties; ties break on CO2e.
    assert by_code["c"].score == pytest.approx(50.0)
    assert [r.code for r in ranking.ranked] == ["b", "c", "a"]
    # CO2e = 2 kWh × PUE 1 × 100 g/kWh = 0.2 kg; cost = 0.20 × 10 h = 2.0 USD
    assert by_code["b"].co2e_kg == pytest.approx(0.2)
    assert by_code["b"].cost_usd == pytest.approx(2.0)
    assert by_code["b"].co2e_change_kg == pytest.approx(0.2 - 0.8)
    assert by_code["b"].cost_change_usd == pytest.approx(1.0)
    assert by_code["a"].is_current and not by_code["b"].is_current


def test_carbon_only_weights_pick_the_cleanest() -> None:
    ranking = rank_regions(OPTIONS, WINDOW, Weights(carbon=1, latency=0, cost=0))
    assert [r.code for r in ranking.ranked] == ["b", "c", "a"]
    assert ranking.ranked[0].score == 100.0
    assert ranking.ranked[-1].score == 0.0


def test_pue_enters_the_carbon_figure() -> None:
    options = [_option("x", 100.0, 5.0, 0.1, pue=1.5), _option("y", 140.0, 5.0, 0.1, pue=1.0)]
    ranking = rank_regions(options, WINDOW, Weights(carbon=1, latency=0, cost=0))
    # x: 2 × 1.5 × 100 = 300 g; y: 2 × 1.0 × 140 = 280 g → y wins despite higher intensity.
    assert ranking.ranked[0].code == "y"
    assert ranking.ranked[1].co2e_kg == pytest.approx(0.3)


def test_constraints_exclude_with_reasons() -> None:
    options = [
        *OPTIONS,
        _option("gcp-x", 50.0, 5.0, 0.1, provider="gcp"),
        _option("us", 50.0, 5.0, 0.1, country="US"),
        _option("nodata", None, 5.0, 0.1),
        _option("noprice", 50.0, 5.0, None),
    ]
    ranking = rank_regions(
        options,
        WINDOW,
        constraints=Constraints(max_latency_ms=40, providers=frozenset({"aws"}), countries=frozenset({"DE"})),
    )
    assert {r.code for r in ranking.ranked} == {"a", "c"}
    reasons = {e.code: " ".join(e.reasons) for e in ranking.excluded}
    assert "exceeds the limit of 40 ms" in reasons["b"]
    assert "provider gcp" in reasons["gcp-x"]
    assert "data-residency" in reasons["us"]
    assert "no carbon-intensity data" in reasons["nodata"]
    assert "not offered" in reasons["noprice"]


def test_no_prices_at_all_drops_cost_from_the_score() -> None:
    options = [_option("a", 400.0, 10.0, None), _option("b", 100.0, 50.0, None)]
    ranking = rank_regions(options, WINDOW, Weights(carbon=0.5, latency=0.2, cost=0.3))
    assert ranking.weights["cost"] == 0.0
    assert ranking.weights["carbon"] == pytest.approx(0.5 / 0.7)
    assert ranking.ranked[0].code == "b"
    assert "left out of the score" in ranking.ranked[0].explanation[2]


def test_explanations_state_the_figures() -> None:
    ranking = rank_regions(OPTIONS, Window(hours=10, it_energy_kwh=2.0, label="24 h from 08:00"), current_region="a")
    best = next(r for r in ranking.ranked if r.code == "b")
    carbon, latency, cost, score = best.explanation
    assert "100 gCO2e/kWh" in carbon and "24 h from 08:00" in carbon and "0.20 kgCO2e" in carbon
    assert "75% less than a" in carbon
    assert "50 ms" in latency
    assert "$0.2000/h" in cost and "$2.00" in cost and "100% more than a" in cost
    assert score.startswith("Score 50.0")


def test_nothing_feasible() -> None:
    ranking = rank_regions(OPTIONS, WINDOW, constraints=Constraints(max_latency_ms=1))
    assert ranking.ranked == [] and len(ranking.excluded) == 3


def test_weights_must_not_all_be_zero() -> None:
    with pytest.raises(ValueError):
        rank_regions(OPTIONS, WINDOW, Weights(0, 0, 0))
