"""Flakiness statistics: flip rate, Wilson interval, percentiles, change detection."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

DECIDED = frozenset({"passed", "failed"})


def decided_outcomes(outcomes: Sequence[str]) -> list[str]:
    """Only passed/failed count (ReportPortal ignores skipped and interrupted items).

    A Playwright ``flaky`` outcome (failed, then passed on retry) ends as passed.
    """
    return [
        "passed" if outcome == "flaky" else outcome
        for outcome in outcomes
        if outcome in DECIDED or outcome == "flaky"
    ]


def flip_count(outcomes: Sequence[str]) -> int:
    """Number of passed<->failed switches between consecutive decided outcomes."""
    decided = decided_outcomes(outcomes)
    return sum(1 for before, after in itertools.pairwise(decided) if before != after)


def flip_rate(outcomes: Sequence[str]) -> float:
    """Switches over possible switches (ReportPortal's "% of switches"); 0 below two outcomes."""
    decided = decided_outcomes(outcomes)
    if len(decided) < 2:
        return 0.0
    return flip_count(decided) / (len(decided) - 1)


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if trials <= 0:
        return (0.0, 1.0)
    if successes < 0 or successes > trials:
        raise ValueError("successes must be within [0, trials]")
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    low, high = max(0.0, centre - margin), min(1.0, centre + margin)
    # Rounding can push the bounds a hair past the point estimate at p = 0 or 1.
    return (min(low, p), max(high, p))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (DuckDB's ``quantile_cont``); NaN for no values."""
    if not 0 <= q <= 1:
        raise ValueError("q must be within [0, 1]")
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    lower = math.floor(position)
    upper = math.ceil(position)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


def pass_rate(outcomes: Sequence[str]) -> float | None:
    """Share of decided outcomes that passed; None when nothing was decided."""
    decided = decided_outcomes(outcomes)
    if not decided:
        return None
    return decided.count("passed") / len(decided)


def regressed(
    baseline_p95: float, recent_p95: float, *, min_ratio: float, min_delta_ms: float
) -> bool:
    """A regression must be large both relatively and absolutely, so fast steps stay quiet."""
    if math.isnan(baseline_p95) or math.isnan(recent_p95) or baseline_p95 < 0:
        return False
    delta = recent_p95 - baseline_p95
    return delta >= min_delta_ms and recent_p95 >= baseline_p95 * min_ratio
