"""Flakiness statistics: ReportPortal's flip rate, the Wilson interval, percentiles."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scriptflow.insights.statistics import (
    flip_count,
    flip_rate,
    pass_rate,
    percentile,
    regressed,
    wilson_interval,
)

outcome_lists = st.lists(st.sampled_from(["passed", "failed", "flaky", "skipped"]), max_size=60)


def test_flip_rate_counts_switches_over_possible_switches() -> None:
    assert flip_rate(["passed", "failed", "passed", "failed"]) == 1.0
    assert flip_rate(["passed", "passed", "failed", "failed"]) == pytest.approx(1 / 3)
    assert flip_rate(["passed"] * 10) == 0.0
    assert flip_rate([]) == 0.0


def test_skipped_is_ignored_and_flaky_ends_as_passed() -> None:
    # ReportPortal only counts Passed/Failed; Playwright's flaky ended in a pass.
    assert flip_count(["passed", "skipped", "passed"]) == 0
    assert flip_count(["failed", "flaky", "failed"]) == 2


@given(outcome_lists)
def test_flip_rate_is_a_rate(outcomes: list[str]) -> None:
    rate = flip_rate(outcomes)
    assert 0.0 <= rate <= 1.0


@given(outcome_lists)
def test_flip_rate_ignores_order_reversal(outcomes: list[str]) -> None:
    assert flip_rate(outcomes) == flip_rate(list(reversed(outcomes)))


@given(st.lists(st.sampled_from(["passed", "failed"]), min_size=1, max_size=60))
def test_a_constant_history_never_flips(outcomes: list[str]) -> None:
    assert flip_rate([outcomes[0]] * len(outcomes)) == 0.0


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_wilson_interval_contains_the_point_estimate(trials: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=trials))
    low, high = wilson_interval(successes, trials)
    assert 0.0 <= low <= successes / trials <= high <= 1.0


@given(st.integers(min_value=1, max_value=500), st.data())
def test_wilson_interval_narrows_with_more_trials(trials: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=trials))
    low, high = wilson_interval(successes, trials)
    low4, high4 = wilson_interval(successes * 4, trials * 4)
    assert high4 - low4 <= high - low + 1e-12


def test_wilson_interval_known_value() -> None:
    # 2 failures in 10: the textbook 95 % Wilson interval is about [0.057, 0.510].
    low, high = wilson_interval(2, 10)
    assert low == pytest.approx(0.0567, abs=1e-3)
    assert high == pytest.approx(0.5098, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200))
def test_percentile_is_bounded_and_monotone(values: list[float]) -> None:
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    assert min(values) <= p50 <= p95 <= max(values)


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
    assert math.isnan(percentile([], 0.95))


def test_pass_rate_and_regression_detection() -> None:
    assert pass_rate(["passed", "failed", "flaky", "skipped"]) == pytest.approx(2 / 3)
    assert pass_rate(["skipped"]) is None
    assert regressed(100, 400, min_ratio=1.5, min_delta_ms=250)
    assert not regressed(10, 40, min_ratio=1.5, min_delta_ms=250)  # 4x, but only 30 ms
    assert not regressed(1000, 1300, min_ratio=1.5, min_delta_ms=250)  # +300 ms, but 1.3x
