"""Carbon-aware planning of deferrable jobs (pure: numpy arrays in, plans out; no I/O, no clock).

Time is a grid of equal slots (an hour for Electricity Maps data). Slot 0 starts at the plan's
origin, normally the start of the current slot, so the arrays hold what is forecast from "now" on.

What the planner does:

- **Contiguous jobs** (the Carbon Aware SDK rule): the window of `duration` slots between the
  earliest start and the deadline with the lowest mean intensity, found for every start at once
  with a cumulative sum.
- **Interruptible jobs** (Let's Wait Awhile): the `duration` lowest-intensity slots between the
  earliest start and the deadline, run as pieces.
- **Several regions at once**: every allowed region is searched and the best (region, slots) wins;
  ties keep the job in its home region (the first allowed one).
- **Forecast uncertainty**: a slot is scored as `mean + risk × std`. Forecast errors of neighbouring
  hours move together, so a window's std is taken as the mean of its slots' std (fully correlated,
  the cautious case). With a positive `risk` the planner prefers near, well-known hours to distant
  hours that only look a little better; the benchmark measures which `risk` pays.
- **The forecast it is fed** (`scheduling_forecast`): Spectra's intensity forecast averaged with
  a recency-weighted daily profile of the last week, which adapts faster to a change of regime.
- **Re-planning**: `start_now` (contiguous) and `run_now` (interruptible) are the same rules asked
  "should this job run in the current slot?" for many jobs at once, vectorised over jobs. Calling
  them every slot with a fresh forecast is how a scheduler revisits its decision while the job waits.

Emissions: energy (kWh) × mean intensity of the chosen slots (gCO2e/kWh) / 1000 → kgCO2e. The
baseline is running at submission: the first `duration` slots from the earliest start in the home
region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import ceil, floor
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from spectra.carbon.intensity.forecast import fill_gaps, forecast_intensity

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Default weight of the forecast std in a slot's score. Measured with bench/carbon_scheduling.py
# (--risk): penalising uncertain hours (0.3, 1.0) or favouring them (-0.3) both lowered the pooled
# ratio to the oracle (by 0.004-0.04), because re-planning every hour already revisits a distant
# choice as it comes near. The knob stays for operators who value a predictable start over grams.
DEFAULT_RISK = 0.0


@dataclass(frozen=True)
class RegionForecast:
    """Forecast intensity (gCO2e/kWh) for one region, slot 0 = the plan's origin."""

    region: str
    mean: FloatArray
    std: FloatArray | None = None
    method: str = ""

    def scores(self, risk: float, length: int) -> FloatArray:
        """Slot scores (mean + risk × std) over `length` slots; slots past the forecast count as its mean."""
        mean = np.asarray(self.mean, dtype=np.float64)
        std = np.zeros_like(mean) if self.std is None else np.asarray(self.std, dtype=np.float64)
        score = mean + risk * std
        if len(score) >= length:
            return score[:length]
        # Past the horizon nothing is known: a neutral value, neither attractive nor forbidden.
        fill = float(np.mean(score)) if len(score) else 0.0
        return np.concatenate([score, np.full(length - len(score), fill)])

    def means(self, length: int) -> FloatArray:
        return RegionForecast(self.region, self.mean, None, self.method).scores(0.0, length)

    def stds(self, length: int) -> FloatArray:
        if self.std is None:
            return np.zeros(length)
        std = np.asarray(self.std, dtype=np.float64)
        if len(std) >= length:
            return std[:length]
        fill = float(np.max(std)) if len(std) else 0.0
        return np.concatenate([std, np.full(length - len(std), fill)])


@dataclass(frozen=True)
class JobRequest:
    """A job in slot units relative to the plan's origin."""

    duration_slots: int
    earliest_slot: int
    deadline_slot: int  # exclusive: the job must be done by the start of this slot
    energy_kwh: float
    regions: tuple[str, ...]
    interruptible: bool = False
    baseline_slot: int | None = None  # where "run at submission" starts; default earliest_slot


@dataclass(frozen=True)
class Piece:
    start_slot: int
    slots: int


@dataclass
class RegionOutcome:
    """The best the planner found in one region (for the explanation)."""

    region: str
    intensity: float
    co2e_kg: float
    score: float


@dataclass
class Plan:
    feasible: bool
    region: str
    pieces: list[Piece]
    start_slot: int
    expected_intensity: float  # mean forecast gCO2e/kWh over the chosen slots
    expected_co2e_kg: float
    co2e_std_kg: float
    baseline_region: str
    baseline_intensity: float
    baseline_co2e_kg: float
    savings_kg: float
    savings_pct: float
    reason: str  # machine code: best_window, best_slots, run_now, deadline_unreachable
    explanation: list[str] = field(default_factory=list)
    regions: list[RegionOutcome] = field(default_factory=list)


# ---------------------------------------------------------------- vectorised primitives


def window_means(values: FloatArray, length: int) -> FloatArray:
    """Mean of every run of `length` consecutive values: out[s] = mean(values[s:s+length])."""
    if length <= 0:
        raise ValueError("window length must be positive")
    cs = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    if len(values) < length:
        return np.empty(0)
    return (cs[length:] - cs[:-length]) / length


def best_starts(window_scores: FloatArray, lo: IntArray, hi: IntArray) -> tuple[IntArray, FloatArray]:
    """For each job, the start in [lo, hi] (inclusive) with the lowest window score; ties go to the earliest.

    Jobs with hi < lo get -1 and +inf. Vectorised over jobs: candidates are laid out in a padded
    jobs × widest-range matrix, so the cost is one fancy index and one argmin.
    """
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.minimum(np.asarray(hi, dtype=np.int64), len(window_scores) - 1)
    width = int(np.max(hi - lo + 1, initial=0))
    if width <= 0 or len(window_scores) == 0:
        return np.full(len(lo), -1, dtype=np.int64), np.full(len(lo), np.inf)
    offsets = np.arange(width, dtype=np.int64)
    idx = lo[:, None] + offsets[None, :]
    valid = idx <= hi[:, None]
    cand = np.where(valid, window_scores[np.clip(idx, 0, len(window_scores) - 1)], np.inf)
    arg = np.argmin(cand, axis=1)
    best = cand[np.arange(len(lo)), arg]
    start = np.where(np.isfinite(best), lo + arg, -1)
    return start, best


def start_now(scores: FloatArray, durations: IntArray, latest_starts: IntArray) -> NDArray[np.bool_]:
    """Contiguous jobs waiting at slot 0: should each start now?

    A job starts now when the window starting now scores at least as well as every later window it
    may still take (start ≤ latest_starts) — ties go to now — or when it has no later choice left.
    One padded jobs × starts matrix of window means from a single cumulative sum.
    """
    durations = np.asarray(durations, dtype=np.int64)
    latest_starts = np.asarray(latest_starts, dtype=np.int64)
    if len(durations) == 0:
        return np.zeros(0, dtype=bool)
    cs = np.concatenate([[0.0], np.cumsum(scores, dtype=np.float64)])
    limit = np.minimum(latest_starts, len(scores) - durations)  # windows must fit in the forecast
    width = int(max(np.max(limit), 0)) + 1
    offsets = np.arange(width, dtype=np.int64)[None, :]
    ends = np.clip(offsets + durations[:, None], 0, len(scores))
    windows = (cs[ends] - cs[np.minimum(offsets, len(scores))]) / durations[:, None]
    windows = np.where(offsets <= limit[:, None], windows, np.inf)
    now = windows[:, 0]
    return (now <= windows.min(axis=1)) | (latest_starts <= 0)


def run_now(scores: FloatArray, remaining: IntArray, window_slots: IntArray) -> NDArray[np.bool_]:
    """Interruptible jobs at slot 0 with `remaining` slots of work and `window_slots` slots left before
    their deadline: should each run in the current slot?

    Yes when slot 0 is among the `remaining` best of its window (rank by score, ties to the earlier
    slot) or when no slack is left. Vectorised over jobs with a padded matrix.
    """
    remaining = np.asarray(remaining, dtype=np.int64)
    window_slots = np.minimum(np.asarray(window_slots, dtype=np.int64), len(scores))
    width = int(np.max(window_slots, initial=0))
    if width <= 0:
        return np.zeros(len(remaining), dtype=bool)
    lane = np.arange(width)[None, :]
    inside = lane < window_slots[:, None]
    better = inside & (scores[None, :width] < scores[0])
    rank = better.sum(axis=1)
    return (remaining > 0) & ((rank < remaining) | (remaining >= window_slots))


def lowest_slots(scores: FloatArray, lo: int, hi: int, count: int) -> IntArray:
    """Indices (sorted) of the `count` lowest scores in [lo, hi); ties go to the earlier slot."""
    segment = scores[lo:hi]
    order = np.argsort(segment, kind="stable")[:count]
    return np.sort(order + lo).astype(np.int64)


def pieces_of(slots: IntArray) -> list[Piece]:
    """Group sorted slot indices into contiguous pieces."""
    pieces: list[Piece] = []
    for s in slots.tolist():
        if pieces and pieces[-1].start_slot + pieces[-1].slots == s:
            pieces[-1] = Piece(pieces[-1].start_slot, pieces[-1].slots + 1)
        else:
            pieces.append(Piece(int(s), 1))
    return pieces


# ---------------------------------------------------------------- the forecast the planner is fed

# Weight of the recent daily profile in the scheduling forecast, and its shape; chosen with
# bench/carbon_scheduling.py (pooled ratio to the oracle 0.907 vs 0.902 for the forecast alone;
# flat within ±0.1 of the weight and of the recency).
PROFILE_WEIGHT = 0.3
PROFILE_DAYS = 7
PROFILE_RECENCY = 0.6  # weight of each older day relative to the next newer one
DEPARTURE_DECAY = 0.9  # per hour, for the current departure from the profile
DAY_SLOTS = 24


def recent_profile(history: FloatArray, horizon: int) -> FloatArray:
    """Hourly history → the next `horizon` hours as a recency-weighted daily profile of the last
    days plus the current departure from it, decaying. It adapts within a day or two to a change
    of regime (a windy spell, a plant outage) where a model fitted on months adapts slowly."""
    days = min(PROFILE_DAYS, len(history) // DAY_SLOTS)
    if days == 0:
        return np.full(horizon, float(np.mean(history)))
    block = np.asarray(history[len(history) - days * DAY_SLOTS :], dtype=np.float64).reshape(days, DAY_SLOTS)
    weights = PROFILE_RECENCY ** np.arange(days)[::-1]
    profile = (block * weights[:, None]).sum(axis=0) / weights.sum()
    departure = float(np.mean(block[-1, -3:] - profile[-3:]))
    return np.resize(profile, horizon) + departure * DEPARTURE_DECAY ** np.arange(1, horizon + 1)


def blend_with_profile(history: FloatArray, mean: FloatArray) -> FloatArray:
    """A forecast mean averaged with the recent daily profile (weights PROFILE_WEIGHT).

    The two err differently (a regression on months of history vs the last week, recent days
    first), so their average ranks the coming hours better than either. With less than a day of
    history the forecast is returned unchanged.
    """
    filled, _ = fill_gaps(history)
    if len(filled) < DAY_SLOTS:
        return np.asarray(mean, dtype=np.float64)
    blended = (1 - PROFILE_WEIGHT) * np.asarray(mean, dtype=np.float64) + PROFILE_WEIGHT * recent_profile(
        filled, len(mean)
    )
    return np.maximum(blended, 0.0)


def scheduling_forecast(history: FloatArray, horizon: int) -> tuple[FloatArray, FloatArray, str]:
    """The forecast the planner is fed: (mean, std, method). `history` is hourly and ends at the
    last completed hour (NaN = missing); the std is Spectra's forecast's own."""
    result = forecast_intensity(history, horizon)
    method = f"{result.method} blended {1 - PROFILE_WEIGHT:g}/{PROFILE_WEIGHT:g} with the recent daily profile"
    return blend_with_profile(history, result.mean), result.std, method


# ---------------------------------------------------------------- one job, several regions


def _choose(
    request: JobRequest, forecast: RegionForecast, risk: float, length: int
) -> tuple[list[int], float, float, float]:
    """Best slots in one region: (slots, score, mean intensity, mean std)."""
    scores = forecast.scores(risk, length)
    means = forecast.means(length)
    stds = forecast.stds(length)
    d = request.duration_slots
    lo, hi = request.earliest_slot, request.deadline_slot
    if request.interruptible:
        chosen = lowest_slots(scores, lo, hi, d)
    else:
        windows = window_means(scores, d)
        start, _ = best_starts(windows, np.array([lo]), np.array([hi - d]))
        chosen = np.arange(int(start[0]), int(start[0]) + d)
    return (
        chosen.tolist(),
        float(scores[chosen].mean()),
        float(means[chosen].mean()),
        float(stds[chosen].mean()),
    )


def plan_job(request: JobRequest, forecasts: Sequence[RegionForecast], risk: float = DEFAULT_RISK) -> Plan:
    """Plan one job over its allowed regions (those with a forecast) and explain the choice."""
    if request.duration_slots <= 0:
        raise ValueError("duration must be at least one slot")
    by_region = {f.region: f for f in forecasts}
    regions = [r for r in request.regions if r in by_region]
    if not regions:
        raise ValueError("no forecast for any allowed region")
    home = regions[0]
    d = request.duration_slots
    base_start = request.earliest_slot if request.baseline_slot is None else request.baseline_slot
    length = max(request.deadline_slot, request.earliest_slot + d, base_start + d)
    base_means = by_region[home].means(length)
    base_intensity = float(base_means[base_start : base_start + d].mean())
    base_co2e = request.energy_kwh * base_intensity / 1000.0

    feasible = request.earliest_slot + d <= request.deadline_slot
    outcomes: list[RegionOutcome] = []
    best: tuple[float, int, str, list[int], float, float] | None = None
    for order, region in enumerate(regions):
        forecast = by_region[region]
        if feasible:
            slots, score, intensity, std = _choose(request, forecast, risk, length)
        else:
            # Too late for the deadline: the least-late plan is to run as soon as possible.
            slots = list(range(request.earliest_slot, request.earliest_slot + d))
            means = forecast.means(length)
            intensity = float(means[slots].mean())
            std = float(forecast.stds(length)[slots].mean())
            score = intensity + risk * std
        outcomes.append(RegionOutcome(region, intensity, request.energy_kwh * intensity / 1000.0, score))
        # Lower score wins; on a tie stay in the earlier-listed region (home first).
        key = (round(score, 9), order)
        if best is None or key < (round(best[0], 9), best[1]):
            best = (score, order, region, slots, intensity, std)
    assert best is not None
    _, _, region, slots, intensity, std = best
    chosen = np.asarray(slots, dtype=np.int64)
    pieces = pieces_of(chosen) if request.interruptible else [Piece(int(chosen[0]), d)]
    expected = request.energy_kwh * intensity / 1000.0
    savings = base_co2e - expected
    savings_pct = 100.0 * savings / base_co2e if base_co2e > 0 else 0.0
    if not feasible:
        reason = "deadline_unreachable"
    elif pieces[0].start_slot == request.earliest_slot and len(pieces) == 1:
        reason = "run_now"
    else:
        reason = "best_slots" if request.interruptible else "best_window"
    plan = Plan(
        feasible=feasible,
        region=region,
        pieces=pieces,
        start_slot=pieces[0].start_slot,
        expected_intensity=intensity,
        expected_co2e_kg=expected,
        co2e_std_kg=request.energy_kwh * std / 1000.0,
        baseline_region=home,
        baseline_intensity=base_intensity,
        baseline_co2e_kg=base_co2e,
        savings_kg=savings,
        savings_pct=savings_pct,
        reason=reason,
        regions=outcomes,
    )
    plan.explanation = _explain(request, plan, by_region[region], risk)
    return plan


def _explain(request: JobRequest, plan: Plan, forecast: RegionForecast, risk: float) -> list[str]:
    d = request.duration_slots
    lines: list[str] = []
    if not plan.feasible:
        lines.append(
            f"The deadline cannot be met: the job needs {d} slot(s) but only "
            f"{max(0, request.deadline_slot - request.earliest_slot)} remain before it; run as soon as possible."
        )
    elif request.interruptible:
        lines.append(
            f"Interruptible: the {d} lowest-intensity slot(s) before the deadline, in {len(plan.pieces)} piece(s)."
        )
    else:
        lines.append(f"The {d}-slot window with the lowest forecast mean intensity before the deadline.")
    std_text = f" ± {plan.co2e_std_kg:.3f}" if forecast.std is not None else ""
    lines.append(
        f"Expected {plan.expected_intensity:.1f} gCO2e/kWh in {plan.region} × {request.energy_kwh:.3f} kWh = "
        f"{plan.expected_co2e_kg:.3f}{std_text} kgCO2e, vs {plan.baseline_co2e_kg:.3f} kgCO2e running at "
        f"submission in {plan.baseline_region} ({plan.baseline_intensity:.1f} gCO2e/kWh): "
        f"{plan.savings_pct:.1f}% saved."
    )
    if len(plan.regions) > 1:
        others = ", ".join(f"{o.region} {o.intensity:.1f}" for o in plan.regions)
        lines.append(f"Best mean intensity per allowed region (gCO2e/kWh): {others}.")
    if risk > 0 and forecast.std is not None:
        lines.append(
            f"Slots scored as forecast mean + {risk:g} × std, so uncertain distant hours must beat near ones clearly."
        )
    if forecast.method:
        lines.append(f"Forecast: {forecast.method}.")
    return lines


# ---------------------------------------------------------------- calendar wrapper


@dataclass(frozen=True)
class SlotGrid:
    """Maps datetimes to slot indices: slot 0 starts at `origin`, each slot lasts `step`."""

    origin: datetime
    step: timedelta

    def ceil(self, when: datetime) -> int:
        return max(0, ceil((when - self.origin) / self.step - 1e-9))

    def floor(self, when: datetime) -> int:
        return floor((when - self.origin) / self.step + 1e-9)

    def at(self, slot: int) -> datetime:
        return self.origin + self.step * slot

    def slots_for(self, duration: timedelta) -> int:
        return max(1, ceil(duration / self.step - 1e-9))


def job_request(
    grid: SlotGrid,
    *,
    duration: timedelta,
    power_kw: float,
    earliest_start: datetime,
    deadline: datetime,
    regions: Sequence[str],
    interruptible: bool,
    remaining: timedelta | None = None,
) -> JobRequest:
    """Convert a calendar job into slot units. `remaining` (for a partly run interruptible job)
    replaces the duration in the plan; energy is always power × the work still to do."""
    work = duration if remaining is None else remaining
    return JobRequest(
        duration_slots=grid.slots_for(work),
        earliest_slot=grid.ceil(earliest_start),
        deadline_slot=grid.floor(deadline),
        energy_kwh=power_kw * work.total_seconds() / 3600.0,
        regions=tuple(regions),
        interruptible=interruptible,
    )


# ---------------------------------------------------------------- replay (clock stepping forward)


class Forecaster(Protocol):
    """history = every slot strictly before now (completed slots only) → (mean, std or None), ≥ horizon long."""

    def __call__(self, history: FloatArray, horizon: int) -> tuple[FloatArray, FloatArray | None]: ...


@dataclass
class ReplayResult:
    starts: IntArray  # first slot each job ran in (-1: never ran)
    intensity_sum: FloatArray  # Σ actual intensity over the slots each job ran in
    late: NDArray[np.bool_]  # finished after its deadline
    forecast_calls: int


def replay(
    actual: FloatArray,
    submit: IntArray,
    duration: IntArray,
    deadline: IntArray,
    interruptible: NDArray[np.bool_],
    forecaster: Forecaster,
    *,
    risk: float = DEFAULT_RISK,
    replan: bool = True,
) -> ReplayResult:
    """Run a workload against a real intensity series, one slot at a time.

    At slot t the forecaster sees `actual[:t]` and nothing later. With `replan` every waiting job is
    reconsidered each slot (start_now / run_now); without it each job is planned once, at
    submission, and the plan is followed (the Carbon Aware SDK way). Jobs never run past the end of
    the series: the workload must leave room for its deadlines.
    """
    submit = np.asarray(submit, dtype=np.int64)
    duration = np.asarray(duration, dtype=np.int64)
    deadline = np.asarray(deadline, dtype=np.int64)
    interruptible = np.asarray(interruptible, dtype=bool)
    n = len(submit)
    if n and int(np.max(np.maximum(deadline, submit + duration))) > len(actual):
        raise ValueError("a job's deadline lies past the end of the series")
    starts = np.full(n, -1, dtype=np.int64)
    remaining = duration.copy()
    finish = np.full(n, -1, dtype=np.int64)
    intensity_sum = np.zeros(n)
    committed: dict[int, list[int]] = {}  # replan=False: slot → interruptible jobs planned to run in it
    calls = 0
    cs = np.concatenate([[0.0], np.cumsum(actual, dtype=np.float64)])
    first = int(np.min(submit)) if n else 0
    last = int(np.max(np.maximum(deadline, submit + duration))) if n else 0

    def start(job: int, slot: int) -> None:
        starts[job] = slot
        intensity_sum[job] = cs[slot + duration[job]] - cs[slot]
        remaining[job] = 0
        finish[job] = slot + duration[job]

    for t in range(first, last):
        if replan:
            waiting = np.nonzero((submit <= t) & (remaining > 0) & ((starts < 0) | interruptible))[0]
        else:
            waiting = np.nonzero(submit == t)[0]
        run = np.asarray(committed.pop(t, []), dtype=np.int64)
        if len(waiting):
            horizon = int(np.max(np.maximum(deadline[waiting], t + remaining[waiting]))) - t
            mean, std = forecaster(actual[:t], horizon)
            calls += 1
            scores = np.asarray(mean[:horizon], dtype=np.float64)
            if std is not None and risk:
                scores = scores + risk * np.asarray(std[:horizon], dtype=np.float64)
            contiguous = waiting[~interruptible[waiting]]
            pieces = waiting[interruptible[waiting]]
            if replan:
                go = start_now(scores, duration[contiguous], deadline[contiguous] - duration[contiguous] - t)
                for job in contiguous[go].tolist():
                    start(job, t)
                run = pieces[run_now(scores, remaining[pieces], deadline[pieces] - t)]
            else:
                for d in np.unique(duration[contiguous]).tolist():
                    rows = contiguous[duration[contiguous] == d]
                    best, _ = best_starts(
                        window_means(scores, d), np.zeros(len(rows), dtype=np.int64), deadline[rows] - d - t
                    )
                    for job, s in zip(rows.tolist(), np.maximum(best, 0).tolist(), strict=True):
                        start(job, t + s)  # no feasible window (best = -1): run at once
                for job in pieces.tolist():
                    window = max(int(deadline[job]) - t, int(remaining[job]))
                    for slot in lowest_slots(scores, 0, window, int(remaining[job])).tolist():
                        committed.setdefault(t + slot, []).append(job)
                run = np.concatenate([run, np.asarray(committed.pop(t, []), dtype=np.int64)])
        for job in run.tolist():
            if starts[job] < 0:
                starts[job] = t
            intensity_sum[job] += actual[t]
            remaining[job] -= 1
            if remaining[job] == 0:
                finish[job] = t + 1
    late = (finish > deadline) | (remaining > 0)
    return ReplayResult(starts, intensity_sum, late, calls)
