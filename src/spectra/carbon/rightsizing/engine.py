"""Rightsizing rules: from measured p95 CPU and memory, the smallest type that still fits with headroom.

Sizing: the work the instance does is kept constant, so the vCPUs it needs are current vCPUs × p95 CPU ÷
target CPU (and likewise for memory). A type fits when it has at least that many vCPUs and GiB. The
candidates are the same family (same generation and processor: no surprises) and, when at least 10%
cheaper than the best of the family, types of the same architecture (x86_64 / arm64: no rebuild), or any
architecture when the caller allows it; burstable types only for a burstable instance (a steady load
would exhaust their CPU credits). Of the fitting candidates the cheapest wins (ties: fewer watts,
then the name). An instance running hotter than
the upsize threshold gets the smallest type that brings it back under the target.

Savings per month (730 h): cost = Δ on-demand price × 730; CO2e = Δ power × 730 h × PUE × grid
intensity (+ Δ embodied). Power follows the workload: the same CPU work spread over the new vCPU
count (mean utilisation × old vCPUs ÷ new vCPUs), so savings come from idle watts that disappear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class TypeSpec:
    name: str
    vcpu: int
    memory_gib: float
    architecture: str  # x86_64 | arm64
    price_usd_per_hour: float | None
    burstable: bool = False  # CPU credits: only sustainable under a baseline, so never a target from elsewhere

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class Utilisation:
    cpu_p95: float  # percent of the instance's vCPUs
    memory_p95: float | None  # percent of its memory; None when not collected
    cpu_mean: float | None = None
    samples: int = 0
    window_hours: float = 0.0


@dataclass(frozen=True)
class Policy:
    target_cpu_pct: float = 70.0
    target_memory_pct: float = 80.0
    downsize_below_cpu_pct: float = 40.0
    upsize_above_cpu_pct: float = 90.0
    upsize_above_memory_pct: float = 90.0
    allow_architecture_change: bool = False
    other_family_min_saving_pct: float = 10.0
    min_samples: int = 12


@dataclass(frozen=True)
class Recommendation:
    action: str  # downsize | upsize | keep | insufficient_data
    current: TypeSpec
    recommended: TypeSpec | None
    scope: str  # same_family | compatible | none
    required_vcpu: float
    required_memory_gib: float | None
    monthly_cost_savings_usd: float | None
    monthly_co2e_savings_kg: float | None
    current_power_w: float | None
    recommended_power_w: float | None
    reasons: list[str]


PowerModel = Callable[[TypeSpec, float], float]  # (type, utilisation 0..1) -> watts at the server
EmbodiedModel = Callable[[TypeSpec], float]  # type -> gCO2e per instance-hour


def _fits(spec: TypeSpec, vcpu: float, memory: float | None) -> bool:
    return spec.vcpu >= vcpu - 1e-9 and (memory is None or spec.memory_gib >= memory - 1e-9)


def _choose(
    candidates: Sequence[TypeSpec], vcpu: float, memory: float | None, power: PowerModel | None, util: float
) -> TypeSpec | None:
    fitting = [c for c in candidates if c.price_usd_per_hour is not None and _fits(c, vcpu, memory)]
    if not fitting:
        return None

    def key(c: TypeSpec) -> tuple[float, float, int, str]:
        watts = power(c, min(1.0, util * 1.0)) if power is not None else 0.0
        return (c.price_usd_per_hour or 0.0, watts, c.vcpu, c.name)

    return min(fitting, key=key)


def recommend(
    current: TypeSpec,
    usage: Utilisation,
    catalog: Sequence[TypeSpec],
    policy: Policy = Policy(),
    power: PowerModel | None = None,
    intensity_g_per_kwh: float | None = None,
    pue: float = 1.0,
    embodied: EmbodiedModel | None = None,
) -> Recommendation:
    reasons: list[str] = []
    if usage.samples < policy.min_samples:
        return Recommendation(
            "insufficient_data", current, None, "none", current.vcpu, None, None, None, None, None,
            [f"only {usage.samples} utilisation samples; at least {policy.min_samples} are needed"],
        )  # fmt: skip
    cpu = max(0.0, usage.cpu_p95)
    mem = usage.memory_p95
    required_vcpu = current.vcpu * cpu / policy.target_cpu_pct
    required_mem = current.memory_gib * mem / policy.target_memory_pct if mem is not None else None
    reasons.append(
        f"p95 CPU {cpu:.1f}% of {current.vcpu} vCPU over {usage.window_hours:g} h ({usage.samples} samples)"
        f" → needs {required_vcpu:.2f} vCPU at a {policy.target_cpu_pct:.0f}% target"
    )
    if required_mem is not None and mem is not None:
        reasons.append(
            f"p95 memory {mem:.1f}% of {current.memory_gib:g} GiB → needs {required_mem:.2f} GiB"
            f" at a {policy.target_memory_pct:.0f}% target"
        )
    else:
        reasons.append("memory not measured: the current memory size is kept as the minimum")
        required_mem = current.memory_gib

    hot = cpu > policy.upsize_above_cpu_pct or (mem is not None and mem > policy.upsize_above_memory_pct)
    cold = cpu < policy.downsize_below_cpu_pct and (mem is None or mem < policy.target_memory_pct)
    if not hot and not cold:
        reasons.append(
            f"utilisation sits between the downsize ({policy.downsize_below_cpu_pct:.0f}%) and upsize "
            f"({policy.upsize_above_cpu_pct:.0f}%) thresholds: keep {current.name}"
        )
        return Recommendation(
            "keep", current, current, "none", required_vcpu, required_mem, 0.0, 0.0, None, None, reasons
        )
    if hot:
        # Never recommend something smaller than what runs now when it is saturated.
        required_vcpu = max(required_vcpu, current.vcpu + 1e-9 if cpu > policy.upsize_above_cpu_pct else 0)
        if mem is not None and mem > policy.upsize_above_memory_pct:
            required_mem = max(required_mem, current.memory_gib + 1e-9)

    util_now = (usage.cpu_mean if usage.cpu_mean is not None else cpu) / 100.0
    others = [c for c in catalog if c.name != current.name]
    same_family = [c for c in others if c.family == current.family]
    compatible = [
        c
        for c in others
        if c.family != current.family
        and (policy.allow_architecture_change or c.architecture == current.architecture)
        and (current.burstable or not c.burstable)
    ]
    scope = "same_family"
    choice = _choose(same_family, required_vcpu, required_mem, power, util_now)
    alt = _choose(compatible, required_vcpu, required_mem, power, util_now)
    # Another family has to be clearly cheaper to be worth the change of hardware.
    margin = 1.0 - policy.other_family_min_saving_pct / 100.0
    if alt is not None and (
        choice is None or (alt.price_usd_per_hour or 0.0) < (choice.price_usd_per_hour or 0.0) * margin
    ):
        choice, scope = alt, "compatible"
    if choice is None:
        reasons.append("no type in the catalogue fits the need with a known price")
        return Recommendation(
            "keep", current, current, "none", required_vcpu, required_mem, 0.0, 0.0, None, None, reasons
        )
    if cold and not _cheaper_than(choice, current):
        reasons.append(f"no fitting type is cheaper than {current.name}: keep it")
        return Recommendation(
            "keep", current, current, "none", required_vcpu, required_mem, 0.0, 0.0, None, None, reasons
        )
    action = "upsize" if hot else "downsize"
    reasons.append(
        f"{action} to {choice.name} ({choice.vcpu} vCPU, {choice.memory_gib:g} GiB"
        f"{', same family' if scope == 'same_family' else ', ' + choice.architecture}): "
        f"cheapest type that fits"
    )

    cost_saving: float | None = None
    if current.price_usd_per_hour is not None and choice.price_usd_per_hour is not None:
        cost_saving = (current.price_usd_per_hour - choice.price_usd_per_hour) * HOURS_PER_MONTH
    watts_now = watts_new = None
    co2e_saving: float | None = None
    if power is not None:
        util_new = min(1.0, util_now * current.vcpu / choice.vcpu)
        watts_now, watts_new = power(current, util_now), power(choice, util_new)
        if intensity_g_per_kwh is not None:
            grams = (watts_now - watts_new) / 1000.0 * HOURS_PER_MONTH * pue * intensity_g_per_kwh
            if embodied is not None:
                grams += (embodied(current) - embodied(choice)) * HOURS_PER_MONTH
            co2e_saving = grams / 1000.0
            reasons.append(
                f"power {watts_now:.1f} W → {watts_new:.1f} W (CPU work kept: {util_now:.0%} of "
                f"{current.vcpu} vCPU = {util_new:.0%} of {choice.vcpu}) × 730 h × PUE {pue:.2f} × "
                f"{intensity_g_per_kwh:.0f} gCO2e/kWh"
            )
    return Recommendation(
        action,
        current,
        choice,
        scope,
        required_vcpu,
        required_mem,
        round(cost_saving, 2) if cost_saving is not None else None,
        round(co2e_saving, 3) if co2e_saving is not None else None,
        round(watts_now, 2) if watts_now is not None else None,
        round(watts_new, 2) if watts_new is not None else None,
        reasons,
    )


def _cheaper_than(candidate: TypeSpec, current: TypeSpec) -> bool | None:
    if candidate.price_usd_per_hour is None or current.price_usd_per_hour is None:
        return None
    return candidate.price_usd_per_hour < current.price_usd_per_hour - 1e-12
