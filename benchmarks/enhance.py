"""Benchmark: the rules provider against libcst parsing alone, for 50, 500 and 2,000 lines.

Run from the repository root::

    .venv/bin/python -m benchmarks.enhance [--repeat 15]

Each script is a pytest-playwright module in the shape people write: tests with hard waits,
selector-first page calls, boolean asserts and absolute URLs, so every rule family has work.
For each size it times `libcst.parse_module` alone and the whole rules provider (parse,
metadata, every codemod, code generation) in the same process, and prints the medians, the
ratio and the goal (ratio <= 3x, and under 300 ms at 2,000 lines). Times are the median CPU
time of this process (`time.process_time`), so other load on the machine does not inflate them.
Always exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import libcst

from scriptflow.enhance.proposal import EnhanceOptions
from scriptflow.enhance.rules import enhance_with_rules

SIZES = (50, 500, 2000)
BASE_URL = "https://staging.example.com"
HEADER = "import time\n\nfrom playwright.sync_api import Page\n\n"
TEST = """

def test_checkout_{n}(page: Page) -> None:
    page.goto("{base}/cart/{n}")
    # give the cart a moment
    page.wait_for_timeout(500)
    page.fill("#coupon", "ÉTÉ-{n}")
    page.click("div.actions > button:nth-child(2)")
    time.sleep(1)
    assert page.is_visible("#total"), "total shown"
    assert page.inner_text("#total") == "42,00 €"
    page.locator("#pay").click()
    assert page.url == "{base}/done"
"""


def script_of(lines: int) -> str:
    """A module of about `lines` lines made of repeated realistic tests."""
    parts = [HEADER]
    n = 0
    while sum(part.count("\n") for part in parts) < lines:
        parts.append(TEST.format(n=n, base=BASE_URL))
        n += 1
    return "".join(parts)


def median_ms(action: Callable[[], object], repeat: int) -> float:
    """Median CPU time of this process per call: robust to other load on the machine."""
    action()  # warm up imports and caches
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    options = EnhanceOptions(base_urls=(BASE_URL,))
    print(f"{'lines':>6} {'parse ms':>10} {'rules ms':>10} {'ratio':>7} {'findings':>9}  goal")
    for size in SIZES:
        source = script_of(size)
        actual_lines = source.count("\n")
        parse = median_ms(lambda source=source: libcst.parse_module(source), args.repeat)
        rules = median_ms(lambda source=source: enhance_with_rules(source, options), args.repeat)
        findings = len(enhance_with_rules(source, options).findings)
        ratio = rules / parse
        ok = ratio <= 3 and (size < 2000 or rules < 300)
        print(
            f"{actual_lines:>6} {parse:>10.1f} {rules:>10.1f} {ratio:>6.2f}x {findings:>9}  "
            f"{'met' if ok else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
