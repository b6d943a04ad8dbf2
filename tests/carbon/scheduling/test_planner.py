"""Hand-worked examples for the carbon-aware planner (no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from spectra.carbon.scheduling.planner import (
    JobRequest,
    Piece,
    RegionForecast,
    SlotGrid,
    best_starts,
    blend_with_profile,
    job_request,
    lowest_slots,
    pieces_of,
    plan_job,
    recent_profile,
    replay,
    run_now,
    start_now,
    window_means,
)


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_window_means_by_cumsum() -> None:
    assert window_means(arr(1, 2, 3, 4), 2).tolist() == [1.5, 2.5, 3.5]
    assert window_means(arr(1, 2, 3, 4), 4).tolist() == [2.5]
    assert window_means(arr(1, 2), 3).size == 0


def test_best_starts_respects_each_jobs_range_and_prefers_the_earliest_tie() -> None:
    windows = arr(5, 3, 4, 3, 1, 6)
    start, best = best_starts(windows, np.array([0, 0, 2, 5, 4]), np.array([3, 5, 3, 4, 9]))
    # job 0: [0,3] → 3 at 1 and 3, earliest wins; job 1: [0,5] → 1 at 4; job 2: [2,3] → 3 at 3;
    # job 3: empty range; job 4: [4,5] (clipped) → 1 at 4.
    assert start.tolist() == [1, 4, 3, -1, 4]
    assert best.tolist() == [3, 1, 3, np.inf, 1]


def test_known_best_window_with_emissions_and_savings() -> None:
    forecast = RegionForecast("home", arr(500, 400, 300, 100, 100, 600, 700))
    request = JobRequest(duration_slots=2, earliest_slot=0, deadline_slot=7, energy_kwh=10.0, regions=("home",))
    plan = plan_job(request, [forecast])
    assert plan.feasible
    assert plan.start_slot == 3
    assert plan.pieces == [Piece(3, 2)]
    assert plan.reason == "best_window"
    assert plan.expected_intensity == pytest.approx(100.0)
    assert plan.expected_co2e_kg == pytest.approx(1.0)  # 10 kWh × 100 g/kWh
    assert plan.baseline_co2e_kg == pytest.approx(4.5)  # 10 kWh × (500 + 400) / 2
    assert plan.savings_kg == pytest.approx(3.5)
    assert plan.savings_pct == pytest.approx(100 * 3.5 / 4.5)
    assert "4.500 kgCO2e running at submission" in " ".join(plan.explanation)


def test_deadline_limits_the_window() -> None:
    forecast = RegionForecast("home", arr(500, 400, 300, 100, 100, 600, 700))
    request = JobRequest(duration_slots=2, earliest_slot=0, deadline_slot=4, energy_kwh=1.0, regions=("home",))
    plan = plan_job(request, [forecast])
    # Windows ending by slot 4: 450, 350, 200 → start at 2 (300, 100).
    assert plan.start_slot == 2
    assert plan.expected_intensity == pytest.approx(200.0)


def test_earliest_start_limits_the_window_and_sets_the_baseline() -> None:
    forecast = RegionForecast("home", arr(10, 10, 300, 200, 250, 900))
    request = JobRequest(duration_slots=2, earliest_slot=2, deadline_slot=6, energy_kwh=1.0, regions=("home",))
    plan = plan_job(request, [forecast])
    assert plan.start_slot == 3  # (200 + 250) / 2 beats (300 + 200) / 2; slots 0-1 are before the earliest start
    assert plan.baseline_intensity == pytest.approx(250.0)


def test_interruptible_job_takes_the_lowest_slots_in_pieces() -> None:
    forecast = RegionForecast("home", arr(500, 100, 120, 400, 90, 600, 80, 700))
    request = JobRequest(
        duration_slots=4, earliest_slot=0, deadline_slot=8, energy_kwh=4.0, regions=("home",), interruptible=True
    )
    plan = plan_job(request, [forecast])
    assert plan.pieces == [Piece(1, 2), Piece(4, 1), Piece(6, 1)]
    assert plan.reason == "best_slots"
    assert plan.expected_intensity == pytest.approx((100 + 120 + 90 + 80) / 4)
    # The best contiguous window of 4 (slots 1-4: 177.5) is worse than the pieces (97.5).
    contiguous = plan_job(
        JobRequest(duration_slots=4, earliest_slot=0, deadline_slot=8, energy_kwh=4.0, regions=("home",)), [forecast]
    )
    assert contiguous.expected_intensity == pytest.approx((100 + 120 + 400 + 90) / 4)


def test_pieces_and_lowest_slots_helpers() -> None:
    assert pieces_of(np.array([2, 3, 4, 7, 9, 10])) == [Piece(2, 3), Piece(7, 1), Piece(9, 2)]
    # Ties go to the earlier slot.
    assert lowest_slots(arr(5, 1, 1, 1, 0), 0, 5, 3).tolist() == [1, 2, 4]
    assert lowest_slots(arr(5, 1, 1, 1, 0), 2, 4, 1).tolist() == [2]


def test_deadline_that_cannot_be_met_runs_as_soon_as_possible_and_says_so() -> None:
    forecast = RegionForecast("home", arr(300, 300, 300, 300, 300, 10, 10, 10))
    request = JobRequest(duration_slots=3, earliest_slot=4, deadline_slot=6, energy_kwh=1.0, regions=("home",))
    plan = plan_job(request, [forecast])
    assert not plan.feasible
    assert plan.reason == "deadline_unreachable"
    assert plan.start_slot == 4
    assert "cannot be met" in plan.explanation[0]


def test_region_choice_picks_the_cleaner_region_and_keeps_home_on_a_tie() -> None:
    home = RegionForecast("eu-central-1", arr(400, 380, 390, 410))
    clean = RegionForecast("eu-north-1", arr(40, 30, 35, 20))
    request = JobRequest(
        duration_slots=2, earliest_slot=0, deadline_slot=4, energy_kwh=2.0, regions=("eu-central-1", "eu-north-1")
    )
    plan = plan_job(request, [home, clean])
    assert plan.region == "eu-north-1"
    assert plan.start_slot == 2  # (35 + 20) / 2
    assert plan.baseline_region == "eu-central-1"
    assert plan.baseline_co2e_kg == pytest.approx(2.0 * 390 / 1000)
    assert {o.region: o.intensity for o in plan.regions} == {"eu-central-1": 385.0, "eu-north-1": 27.5}

    twin = RegionForecast("eu-west-1", arr(400, 380, 390, 410))
    tie = plan_job(
        JobRequest(
            duration_slots=2, earliest_slot=0, deadline_slot=4, energy_kwh=2.0, regions=("eu-central-1", "eu-west-1")
        ),
        [twin, home],
    )
    assert tie.region == "eu-central-1"
    # A region without a forecast is skipped, not fatal.
    only = plan_job(
        JobRequest(
            duration_slots=1, earliest_slot=0, deadline_slot=4, energy_kwh=1.0, regions=("nowhere", "eu-north-1")
        ),
        [clean],
    )
    assert only.region == "eu-north-1"
    assert only.baseline_region == "eu-north-1"


def test_uncertainty_makes_a_distant_marginal_dip_lose_to_a_certain_near_slot() -> None:
    mean = arr(200, 210, 220, 190)
    std = arr(5, 10, 20, 40)
    request = JobRequest(duration_slots=1, earliest_slot=0, deadline_slot=4, energy_kwh=1.0, regions=("r",))
    assert plan_job(request, [RegionForecast("r", mean, std)], risk=0.0).start_slot == 3
    # 200 + 0.5 × 5 = 202.5 < 190 + 0.5 × 40 = 210.
    cautious = plan_job(request, [RegionForecast("r", mean, std)], risk=0.5)
    assert cautious.start_slot == 0
    assert cautious.reason == "run_now"
    assert cautious.co2e_std_kg == pytest.approx(0.005)


def test_start_now_is_vectorised_over_jobs() -> None:
    scores = arr(100, 300, 50, 50, 400, 10)
    # job 0 (1 slot, may start up to slot 1): 100 now vs 300 → now.
    # job 1 (1 slot, up to 3): 50 at slot 2 → wait.
    # job 2 (2 slots, up to 0): no choice left → now.
    # job 3 (2 slots, up to 4): windows 200, 175, 50, 225, 205 → wait.
    # job 4 (3 slots, up to 1): 150 now vs 133 at 1 → wait.
    go = start_now(scores, np.array([1, 1, 2, 2, 3]), np.array([1, 3, 0, 4, 1]))
    assert go.tolist() == [True, False, True, False, False]


def test_run_now_ranks_the_current_slot_within_each_window() -> None:
    scores = arr(100, 50, 150, 80, 300)
    # job 0: 1 slot left in 5 → slot 0 ranks 3rd → wait. job 1: 3 left in 5 → rank 2 < 3 → run.
    # job 2: 2 left in 2 → no slack → run. job 3: 1 left in 1 → run. job 4: done → no.
    go = run_now(scores, np.array([1, 3, 2, 1, 0]), np.array([5, 5, 2, 1, 5]))
    assert go.tolist() == [False, True, True, True, False]


def test_slot_grid_and_calendar_request() -> None:
    origin = datetime(2026, 3, 2, 10, tzinfo=UTC)
    grid = SlotGrid(origin, timedelta(hours=1))
    request = job_request(
        grid,
        duration=timedelta(minutes=90),
        power_kw=2.0,
        earliest_start=datetime(2026, 3, 2, 10, 20, tzinfo=UTC),
        deadline=datetime(2026, 3, 2, 17, 30, tzinfo=UTC),
        regions=["a"],
        interruptible=False,
    )
    assert request.duration_slots == 2  # 1.5 h rounds up to two hourly slots
    assert request.earliest_slot == 1  # 10:20 → the next slot boundary, 11:00
    assert request.deadline_slot == 7  # done by 17:00, the last boundary before 17:30
    assert request.energy_kwh == pytest.approx(3.0)
    assert grid.at(3) == datetime(2026, 3, 2, 13, tzinfo=UTC)


def test_forecast_shorter_than_the_window_treats_unknown_slots_as_neutral() -> None:
    forecast = RegionForecast("r", arr(300, 100))
    request = JobRequest(duration_slots=1, earliest_slot=0, deadline_slot=5, energy_kwh=1.0, regions=("r",))
    plan = plan_job(request, [forecast])
    assert plan.start_slot == 1  # slots 2-4 count as the forecast mean (200), not as free


class RecordingForecaster:
    """Seasonal-naive-ish forecaster that records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, history: np.ndarray, horizon: int) -> tuple[np.ndarray, None]:
        self.seen.append(len(history))
        return np.full(horizon, float(history[-1])), None


def test_replay_shows_only_the_past_and_future_changes_do_not_change_past_decisions() -> None:
    rng = np.random.default_rng(3)
    actual = rng.uniform(50, 500, size=60)
    submit = np.array([5, 5, 10, 20])
    duration = np.array([2, 1, 3, 2])
    deadline = np.array([15, 12, 30, 40])
    interruptible = np.array([False, True, False, True])

    recorder = RecordingForecaster()
    first = replay(actual, submit, duration, deadline, interruptible, recorder)
    # Called at slot t with exactly t completed slots, never more.
    assert recorder.seen == sorted(recorder.seen)
    assert recorder.seen[0] == 5

    class Guard:
        def __call__(self, history: np.ndarray, horizon: int) -> tuple[np.ndarray, None]:
            assert np.array_equal(history, actual[: len(history)])
            return np.full(horizon, float(history[-1])), None

    replay(actual, submit, duration, deadline, interruptible, Guard())

    # Changing the series from slot 25 on cannot change what was decided before slot 25.
    changed = actual.copy()
    changed[25:] = 1.0
    second = replay(changed, submit, duration, deadline, interruptible, RecordingForecaster())
    for job in range(3):  # jobs that started before slot 25
        assert first.starts[job] < 25
        assert second.starts[job] == first.starts[job]
    assert not first.late.any()


def test_replay_against_hand_worked_series() -> None:
    actual = arr(9, 9, 9, 9, 9, 1, 1, 9, 9, 9)

    def perfect(history: np.ndarray, horizon: int) -> tuple[np.ndarray, None]:
        t = len(history)
        return actual[t : t + horizon], None

    result = replay(
        actual, np.array([1, 1, 1]), np.array([2, 2, 1]), np.array([10, 5, 10]), np.array([False, False, True]), perfect
    )
    assert result.starts.tolist() == [5, 1, 5]  # job 1 must finish by slot 5: any window costs 18, ties to now
    assert result.intensity_sum.tolist() == [2.0, 18.0, 1.0]

    def yesterday(history: np.ndarray, horizon: int) -> tuple[np.ndarray, None]:
        return np.full(horizon, 9.0), None  # a flat forecast: nothing to wait for

    once = replay(actual, np.array([1]), np.array([2]), np.array([10]), np.array([False]), yesterday, replan=False)
    assert once.starts.tolist() == [1]
    assert once.forecast_calls == 1

    # Interruptible job planned once at submission follows its committed slots.
    committed = replay(actual, np.array([0]), np.array([2]), np.array([10]), np.array([True]), perfect, replan=False)
    assert committed.intensity_sum.tolist() == [2.0]
    assert committed.starts.tolist() == [5]


def test_replay_rejects_a_workload_past_the_series() -> None:
    with pytest.raises(ValueError, match="past the end"):
        replay(arr(1, 2, 3), np.array([0]), np.array([2]), np.array([5]), np.array([False]), RecordingForecaster())


def test_recent_profile_weights_recent_days_and_decays_the_departure() -> None:
    history = np.concatenate([np.full(24, 10.0), np.full(24, 20.0)])
    # Two days weighted 0.6 : 1 → profile (0.6 × 10 + 20) / 1.6 = 16.25; the last hours sit 3.75
    # above it, a departure that fades by 0.9 per hour.
    forecast = recent_profile(history, 3)
    assert forecast.tolist() == pytest.approx([16.25 + 3.75 * 0.9, 16.25 + 3.75 * 0.81, 16.25 + 3.75 * 0.729])
    assert recent_profile(np.array([4.0, 6.0]), 2).tolist() == [5.0, 5.0]  # under a day: the mean


def test_blend_with_profile_mixes_seventy_thirty_and_needs_a_day() -> None:
    history = np.tile(np.arange(24, dtype=np.float64), 3)  # a perfectly repeating day
    mean = np.full(24, 100.0)
    blended = blend_with_profile(history, mean)
    # The profile repeats the day (departure 0): 0.7 × 100 + 0.3 × hour.
    assert blended.tolist() == pytest.approx((70.0 + 0.3 * np.arange(24)).tolist())
    assert blend_with_profile(history[:5], mean[:3]).tolist() == [100.0, 100.0, 100.0]
