"""Unified diffs round-trip for any text a script can hold."""

from __future__ import annotations

import difflib
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scriptflow.scripts.diffing import (
    NO_NEWLINE_MARKER,
    DiffDoesNotApply,
    apply_diff,
    parse_hunks,
    split_lines,
    unified_diff,
)

# Lines drawn from a small alphabet collide often, which is what exercises the matcher.
_line_text = st.sampled_from(
    ["", "a", "b", "c", "\tindented", "  page.click('#x')", "café ✓", "x\r", "\x0cff", "# c"]
)
_line_end = st.sampled_from(["\n", "\r\n"])
_line = st.builds(lambda text, end: text + end, _line_text, _line_end)


@st.composite
def script_texts(draw: st.DrawFn) -> str:
    lines = draw(st.lists(_line, max_size=30))
    tail = draw(st.sampled_from(["", "tail", "é\t", "\r"]))
    return "".join(lines) + tail


@st.composite
def edited(draw: st.DrawFn) -> tuple[str, str]:
    base = draw(script_texts())
    lines = split_lines(base)
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, len(lines)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert" or not lines[position:]:
            lines.insert(position, draw(_line))
        elif action == "delete":
            del lines[position]
        else:
            lines[position] = draw(_line)
    new = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if draw(st.booleans()) and new.endswith("\n"):
        new = new[:-1]
    return base, new


@settings(max_examples=400, deadline=None)
@given(script_texts(), script_texts())
def test_applying_the_diff_of_two_texts_gives_the_new_text(old: str, new: str) -> None:
    assert apply_diff(old, unified_diff(old, new)) == new


@settings(max_examples=400, deadline=None)
@given(edited())
def test_applying_the_diff_of_an_edit_gives_the_edit(pair: tuple[str, str]) -> None:
    base, new = pair
    assert apply_diff(base, unified_diff(base, new)) == new


@given(script_texts())
def test_equal_texts_give_an_empty_diff_that_changes_nothing(text: str) -> None:
    assert unified_diff(text, text) == ""
    assert apply_diff(text, "") == text


@given(edited(), st.lists(_line, min_size=1, max_size=5))
def test_a_diff_still_applies_when_unrelated_lines_were_added_on_top(
    pair: tuple[str, str], prefix: list[str]
) -> None:
    base, new = pair
    diff = unified_diff(base, new)
    # A hunk with no old lines (into an empty script) has no context to find a new place by.
    assume(all(hunk.old_lines for hunk in parse_hunks(diff)))
    # Prefix lines that cannot be confused with the script's own.
    header = "".join(f"# moved {i}\n" for i in range(len(prefix)))
    assert apply_diff(header + base, diff) == header + new


def _changed_lines(diff: str) -> int:
    return sum(
        1
        for row in diff.split("\n")
        if row[:1] in ("+", "-") and not row.startswith(("---", "+++"))
    )


@settings(max_examples=300, deadline=None)
@given(script_texts(), script_texts())
def test_the_diff_is_never_longer_than_difflibs(old: str, new: str) -> None:
    # Myers finds a shortest edit script; difflib's matcher does not promise one.
    matcher = difflib.SequenceMatcher(None, split_lines(old), split_lines(new), autojunk=False)
    theirs = sum(
        (i2 - i1) + (j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )
    assert _changed_lines(unified_diff(old, new)) <= theirs


def _one_longest_common_subsequence(old: list[str], new: list[str]) -> bool:
    """True when exactly one alignment keeps the most lines (so one shortest edit exists)."""
    longest = [[0] * (len(new) + 1) for _ in range(len(old) + 1)]
    ways = [[1] * (len(new) + 1) for _ in range(len(old) + 1)]
    for i in range(1, len(old) + 1):
        for j in range(1, len(new) + 1):
            if old[i - 1] == new[j - 1]:
                longest[i][j] = longest[i - 1][j - 1] + 1
                ways[i][j] = ways[i - 1][j - 1]
                continue
            best = max(longest[i - 1][j], longest[i][j - 1])
            longest[i][j] = best
            count = 0
            if longest[i - 1][j] == best:
                count += ways[i - 1][j]
            if longest[i][j - 1] == best:
                count += ways[i][j - 1]
            if longest[i - 1][j - 1] == best:  # counted through both neighbours
                count -= ways[i - 1][j - 1]
            ways[i][j] = count
    return ways[len(old)][len(new)] == 1


def test_a_swap_of_two_lines_has_two_shortest_edits() -> None:
    assert not _one_longest_common_subsequence(["a\n", "b\n"], ["b\n", "a\n"])
    assert _one_longest_common_subsequence(["a\n", "b\n", "c\n"], ["a\n", "x\n", "c\n"])


@given(edited())
def test_the_body_matches_what_difflib_would_print_when_the_edit_is_unambiguous(
    pair: tuple[str, str],
) -> None:
    base, new = pair
    ours = unified_diff(base, new)
    if not ours or not base.endswith("\n") or not new.endswith("\n") or not base or not new:
        return
    theirs = "".join(
        difflib.unified_diff(split_lines(base), split_lines(new), "a/script.py", "b/script.py")
    )
    # Both print the same dialect; where the shortest edit is unique the bodies agree too
    # (a swap of two lines has two: either line may be the one kept).
    old_lines, new_lines = split_lines(base), split_lines(new)
    if (
        _changed_lines(ours) == _changed_lines(theirs)
        and len(old_lines) == len(set(old_lines))
        and len(new_lines) == len(set(new_lines))
        and _one_longest_common_subsequence(old_lines, new_lines)
    ):
        assert ours == "diff --git a/script.py b/script.py\n" + theirs


def test_a_large_repetitive_script_diffs_in_well_under_the_time_budget() -> None:
    block = "".join(f"    page.get_by_role('button', name='Step {i}').click()\n" for i in range(8))
    base = ("def test_flow(page):\n" + block) * (1024 * 1024 // (len(block) + 21))
    assert len(base.encode()) > 1000 * 1024
    lines = split_lines(base)
    edited_at = range(100, len(lines), len(lines) // 20)
    for index in edited_at:
        lines[index] = "    page.wait_for_timeout(100)\n"
    new = "".join(lines)
    # CPU time of this thread: what the diff costs, whatever else the machine is doing.
    started = time.thread_time()
    diff = unified_diff(base, new)
    elapsed = time.thread_time() - started
    assert apply_diff(base, diff) == new
    assert _changed_lines(diff) == 2 * len(edited_at)
    # The goal is < 300 ms on a quiet machine; the bound leaves room for a slower CPU.
    assert elapsed < 1.0, f"{elapsed:.3f}s of CPU"


def test_two_unrelated_large_scripts_still_diff_quickly_and_correctly() -> None:
    base = "".join(f"old line {i % 97}\n" for i in range(20_000))
    new = "".join(f"new line {i % 89}\n" for i in range(20_000))
    started = time.thread_time()
    diff = unified_diff(base, new)
    assert time.thread_time() - started < 2.0
    assert apply_diff(base, diff) == new


def test_the_header_is_git_style() -> None:
    diff = unified_diff("a\nb\n", "a\nc\n", path="tests/login.py")
    assert diff.splitlines()[:4] == [
        "diff --git a/tests/login.py b/tests/login.py",
        "--- a/tests/login.py",
        "+++ b/tests/login.py",
        "@@ -1,2 +1,2 @@",
    ]


def test_a_missing_final_newline_is_marked_like_git() -> None:
    diff = unified_diff("a\nb", "a\nb\n")
    assert diff.endswith(f"-b\n{NO_NEWLINE_MARKER}\n+b\n")
    assert apply_diff("a\nb", diff) == "a\nb\n"


def test_crlf_survives_the_round_trip() -> None:
    old, new = "one\r\ntwo\r\n", "one\r\n2\r\n"
    diff = unified_diff(old, new)
    assert "-two\r\n+2\r\n" in diff
    assert apply_diff(old, diff) == new


def test_a_hunk_whose_lines_are_gone_does_not_apply() -> None:
    diff = unified_diff("a\nb\nc\n", "a\nB\nc\n")
    with pytest.raises(DiffDoesNotApply) as caught:
        apply_diff("a\nx\nc\n", diff)
    assert caught.value.details["hunk"] == 1


def test_a_shifted_hunk_applies_at_its_new_place() -> None:
    base = "".join(f"line {i}\n" for i in range(20))
    new = base.replace("line 10\n", "line ten\n")
    moved = "".join(f"new {i}\n" for i in range(4)) + base
    assert apply_diff(moved, unified_diff(base, new)) == moved.replace("line 10\n", "line ten\n")


def test_a_malformed_diff_is_refused() -> None:
    with pytest.raises(DiffDoesNotApply):
        apply_diff("a\n", "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n")
    with pytest.raises(DiffDoesNotApply):
        apply_diff("a\n", "--- a/x\n+++ b/x\nnot a hunk\n")


def test_hunks_expose_what_they_remove_and_add() -> None:
    (hunk,) = parse_hunks(unified_diff("a\nb\nc\n", "a\nB\nc\nd"))
    assert "b\n" in hunk.removed
    assert "d" in hunk.added
