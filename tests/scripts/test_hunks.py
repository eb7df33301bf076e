"""Review hunks: every run of changed lines is one hunk, and any subset applies on its own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scriptflow.scripts.diffing import parse_hunks, unified_diff
from scriptflow.scripts.hunks import ReviewHunk, UnknownHunks, apply_review_hunks, review_hunks

_line = st.sampled_from(["a\n", "b\n", "c\n", "\n", "  page.click('#x')\n", "café ✓\n", "x\r\n"])
_texts = st.lists(_line, max_size=25).map("".join)


def changed_lines(diff: str) -> int:
    return sum(line.tag != " " for hunk in parse_hunks(diff) for line in hunk.lines)


def net_lines(review: ReviewHunk) -> int:
    return sum({"+": 1, "-": -1}.get(line.tag, 0) for line in review.hunk.lines)


def changed_lines_of(review: ReviewHunk) -> int:
    return sum(line.tag != " " for line in review.hunk.lines)


BASE = "".join(f"line {n}\n" for n in range(1, 13))
# Three changes two lines apart: one diff hunk, three review hunks.
PROPOSED = (
    BASE.replace("line 2\n", "line two\n")
    .replace("line 5\n", "line five\n")
    .replace("line 8\n", "line 8\nline 8½\n")
)


def test_changes_close_together_are_one_diff_hunk_but_separate_review_hunks() -> None:
    diff = unified_diff(BASE, PROPOSED)
    assert diff.count("\n@@ ") == 1
    hunks = review_hunks(diff)
    assert [h.index for h in hunks] == [0, 1, 2]
    assert [line.text for h in hunks for line in h.shown.lines if line.tag == "+"] == [
        "line two\n",
        "line five\n",
        "line 8½\n",
    ]
    # What is shown keeps at most three lines of context and none of another change.
    assert all(
        line.tag == " " or line.text in ("line 2\n", "line two\n") for line in hunks[0].shown.lines
    )


def test_a_chosen_subset_applies_exactly_those_changes() -> None:
    diff = unified_diff(BASE, PROPOSED)
    first_and_last = apply_review_hunks(BASE, diff, [0, 2])
    assert "line two\n" in first_and_last and "line 8½\n" in first_and_last
    assert "line 5\n" in first_and_last and "line five\n" not in first_and_last
    assert apply_review_hunks(BASE, diff, [1]) == BASE.replace("line 5\n", "line five\n")


@pytest.mark.parametrize("chosen", [[], [3], [-1]])
def test_an_empty_or_unknown_choice_is_refused(chosen: list[int]) -> None:
    with pytest.raises(UnknownHunks):
        apply_review_hunks(BASE, unified_diff(BASE, PROPOSED), chosen)


@settings(max_examples=300, deadline=None)
@given(old=_texts, new=_texts, data=st.data())
def test_any_subset_of_review_hunks_applies_to_the_base(
    old: str, new: str, data: st.DataObject
) -> None:
    diff = unified_diff(old, new)
    hunks = review_hunks(diff)
    # Each review hunk is one run of changed lines (context only around it), and together
    # they hold every changed line of the diff.
    for hunk in hunks:
        tags = "".join(line.tag for line in hunk.hunk.lines).strip()
        assert tags and " " not in tags
    assert sum(changed_lines_of(h) for h in hunks) == changed_lines(diff)
    if not hunks:
        return
    assert apply_review_hunks(old, diff, range(len(hunks))) == new
    chosen = data.draw(st.sets(st.integers(0, len(hunks) - 1), min_size=1))
    partial = apply_review_hunks(old, diff, chosen)
    # The base grows or shrinks by exactly the chosen hunks' lines, no more.
    assert len(partial.splitlines()) == len(old.splitlines()) + sum(
        net_lines(hunks[i]) for i in chosen
    )
