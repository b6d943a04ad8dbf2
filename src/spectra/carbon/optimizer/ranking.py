"""Rank regions for a workload by weighted carbon, latency and cost; every rank explains its figures.

Each criterion is put on a 0 (best) … 1 (worst) scale by min-max over the regions that pass the
constraints, so the weights trade like for like; the score is 100 × (1 − weighted sum), higher is
better. Carbon is the workload's emissions over its window (IT energy × PUE × forecast mean
intensity), cost its on-demand price over the window, latency the round trip from its users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RegionOption:
    """One candidate region with the figures the optimiser needs (None = not known)."""

    code: str
    name: str
    provider: str
    country: str | None
    zone: str | None
    pue: float
    intensity_g_per_kwh: float | None
    intensity_std: float | None = None
    intensity_method: str = ""
    latency_ms: float | None = None
    latency_source: str = ""
    latency_details: dict[str, Any] = field(default_factory=dict)
    price_usd_per_hour: float | None = None
    price_source: str = ""


@dataclass(frozen=True)
class Weights:
    carbon: float = 0.5
    latency: float = 0.2
    cost: float = 0.3

    def normalised(self, use_cost: bool) -> tuple[float, float, float]:
        cost = self.cost if use_cost else 0.0
        total = self.carbon + self.latency + cost
        if total <= 0:
            raise ValueError("at least one weight must be positive")
        return self.carbon / total, self.latency / total, cost / total


@dataclass(frozen=True)
class Constraints:
    max_latency_ms: float | None = None
    providers: frozenset[str] | None = None
    countries: frozenset[str] | None = None


@dataclass(frozen=True)
class Window:
    """The workload's run: hours and IT energy (kWh before PUE) over them."""

    hours: float
    it_energy_kwh: float
    label: str = ""


@dataclass
class RankedRegion:
    rank: int
    code: str
    name: str
    provider: str
    country: str | None
    score: float
    components: dict[str, float]
    intensity_g_per_kwh: float
    latency_ms: float | None
    latency_source: str
    co2e_kg: float
    cost_usd: float | None
    co2e_change_kg: float | None
    cost_change_usd: float | None
    is_current: bool
    explanation: list[str]


@dataclass
class ExcludedRegion:
    code: str
    reasons: list[str]


@dataclass
class Ranking:
    ranked: list[RankedRegion]
    excluded: list[ExcludedRegion]
    weights: dict[str, float]
    method: str


def _minmax(values: Sequence[float]) -> list[float]:
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-12:
        return [0.0 for _ in values]
    return [(v - lo) / (hi - lo) for v in values]


def _exclusions(option: RegionOption, constraints: Constraints, needs_price: bool, current: str | None) -> list[str]:
    reasons: list[str] = []
    if constraints.providers is not None and option.provider.lower() not in constraints.providers:
        reasons.append(f"provider {option.provider} is not allowed")
    if constraints.countries is not None and (option.country or "").upper() not in constraints.countries:
        reasons.append(f"country {option.country or 'unknown'} is outside the data-residency list")
    if option.intensity_g_per_kwh is None:
        reasons.append(f"no carbon-intensity data for zone {option.zone or 'unknown'}")
    if constraints.max_latency_ms is not None:
        if option.latency_ms is None:
            reasons.append("latency unknown, cannot check the latency limit")
        elif option.latency_ms > constraints.max_latency_ms:
            reasons.append(
                f"latency {option.latency_ms:.0f} ms exceeds the limit of {constraints.max_latency_ms:.0f} ms"
            )
    if needs_price and option.price_usd_per_hour is None and option.code != current:
        reasons.append("the instance type has no price in this region (not offered)")
    return reasons


def _pct(new: float, old: float) -> str:
    if old <= 0:
        return "n/a"
    change = (new - old) / old * 100
    return f"{abs(change):.0f}% {'less' if change < 0 else 'more'}"


def rank_regions(
    options: Sequence[RegionOption],
    window: Window,
    weights: Weights = Weights(),
    constraints: Constraints = Constraints(),
    current_region: str | None = None,
) -> Ranking:
    priced = any(o.price_usd_per_hour is not None for o in options)
    feasible: list[RegionOption] = []
    excluded: list[ExcludedRegion] = []
    for option in options:
        reasons = _exclusions(option, constraints, priced, current_region)
        if reasons:
            excluded.append(ExcludedRegion(option.code, reasons))
        else:
            feasible.append(option)

    w_carbon, w_latency, w_cost = weights.normalised(use_cost=priced)
    method = (
        "score = 100 × (1 − Σ weight × criterion), each criterion min-max scaled over the feasible "
        "regions (0 best, 1 worst); carbon = IT kWh × PUE × forecast mean gCO2e/kWh over the window"
    )
    if not feasible:
        return Ranking([], excluded, {"carbon": w_carbon, "latency": w_latency, "cost": w_cost}, method)

    co2e = [window.it_energy_kwh * o.pue * (o.intensity_g_per_kwh or 0.0) / 1000.0 for o in feasible]
    worst_latency = max((o.latency_ms for o in feasible if o.latency_ms is not None), default=0.0)
    latency = [o.latency_ms if o.latency_ms is not None else worst_latency for o in feasible]
    cost_known = [o.price_usd_per_hour for o in feasible if o.price_usd_per_hour is not None]
    worst_price = max(cost_known, default=0.0)
    cost = [
        (o.price_usd_per_hour if o.price_usd_per_hour is not None else worst_price) * window.hours for o in feasible
    ]
    n_carbon, n_latency, n_cost = _minmax(co2e), _minmax(latency), _minmax(cost)

    current = next((i for i, o in enumerate(feasible) if o.code == current_region), None)
    current_all = next((o for o in options if o.code == current_region), None)
    current_co2e = (
        window.it_energy_kwh * current_all.pue * current_all.intensity_g_per_kwh / 1000.0
        if current_all is not None and current_all.intensity_g_per_kwh is not None
        else None
    )
    current_cost = (
        current_all.price_usd_per_hour * window.hours
        if current_all is not None and current_all.price_usd_per_hour is not None
        else None
    )

    rows: list[RankedRegion] = []
    for i, option in enumerate(feasible):
        weighted = w_carbon * n_carbon[i] + w_latency * n_latency[i] + w_cost * n_cost[i]
        option_cost = cost[i] if option.price_usd_per_hour is not None else None
        explanation = [
            (
                f"Carbon: forecast mean {option.intensity_g_per_kwh:.0f} gCO2e/kWh"
                f"{' ± ' + format(option.intensity_std, '.0f') if option.intensity_std is not None else ''}"
                f" over {window.label or f'{window.hours:g} h'}"
                f" (zone {option.zone}{', ' + option.intensity_method if option.intensity_method else ''})"
                f" × {window.it_energy_kwh:.2f} kWh IT × PUE {option.pue:.2f}"
                f" = {co2e[i]:.2f} kgCO2e"
                + (
                    f"; {_pct(co2e[i], current_co2e)} than {current_region}"
                    if current_co2e is not None and option.code != current_region
                    else ""
                )
                + "."
            ),
            (
                f"Latency: {option.latency_ms:.0f} ms round trip from the users ({option.latency_source}"
                + (
                    f", {option.latency_details['distance_km']:.0f} km"
                    if "distance_km" in option.latency_details
                    else ""
                )
                + ")."
                if option.latency_ms is not None
                else "Latency: unknown (no coordinates); scored as the worst feasible region."
            ),
            (
                f"Cost: ${option.price_usd_per_hour:.4f}/h ({option.price_source}) × {window.hours:g} h"
                f" = ${cost[i]:.2f}"
                + (
                    f"; {_pct(cost[i], current_cost)} than {current_region}"
                    if current_cost is not None and option.code != current_region
                    else ""
                )
                + "."
                if option.price_usd_per_hour is not None
                else "Cost: no price known; cost left out of the score."
                if not priced
                else f"Cost: no price in this region; scored as the current region's ${cost[i]:.2f}."
            ),
            (
                f"Score {100 * (1 - weighted):.1f} = 100 × (1 − ({w_carbon:.2f}×{n_carbon[i]:.2f} carbon"
                f" + {w_latency:.2f}×{n_latency[i]:.2f} latency + {w_cost:.2f}×{n_cost[i]:.2f} cost))."
            ),
        ]
        rows.append(
            RankedRegion(
                rank=0,
                code=option.code,
                name=option.name,
                provider=option.provider,
                country=option.country,
                score=round(100 * (1 - weighted), 2),
                components={
                    "carbon": round(n_carbon[i], 4),
                    "latency": round(n_latency[i], 4),
                    "cost": round(n_cost[i], 4),
                },
                intensity_g_per_kwh=round(option.intensity_g_per_kwh or 0.0, 2),
                latency_ms=option.latency_ms,
                latency_source=option.latency_source,
                co2e_kg=round(co2e[i], 6),
                cost_usd=round(option_cost, 4) if option_cost is not None else None,
                co2e_change_kg=round(co2e[i] - current_co2e, 6) if current_co2e is not None else None,
                cost_change_usd=(
                    round(option_cost - current_cost, 4)
                    if option_cost is not None and current_cost is not None
                    else None
                ),
                is_current=i == current,
                explanation=explanation,
            )
        )
    rows.sort(key=lambda r: (-r.score, r.co2e_kg, r.code))
    for position, row in enumerate(rows, start=1):
        row.rank = position
    return Ranking(rows, excluded, {"carbon": w_carbon, "latency": w_latency, "cost": w_cost}, method)
