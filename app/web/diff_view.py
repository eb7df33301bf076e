"""A hunk as HTML a reviewer reads: red and green lines, line numbers, Python highlighting.

Two layouts, as code review tools have them: unified (one column, old and new lines
interleaved) and side by side (old on the left, new on the right, changed lines paired).
Every piece of script text goes through Pygments' HTML formatter, which escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from scriptflow.scripts.diffing import Hunk

REMOVED_BG = "#ffebe9"
ADDED_BG = "#e6ffec"
EMPTY_BG = "#f6f8fa"
_TABLE = (
    '<table style="border-collapse:collapse;width:100%;font-family:ui-monospace,SFMono-Regular,'
    'Menlo,monospace;font-size:.82rem;line-height:1.45;border:1px solid #d0d7de">'
)
_NUMBER = "padding:0 .5rem;color:#6e7781;text-align:right;user-select:none;width:1%"
_CODE = "padding:0 .5rem;white-space:pre-wrap;word-break:break-all"


@dataclass(frozen=True)
class DiffRow:
    """One body line with its numbers in the old and the new text (None where absent)."""

    tag: str
    old_number: int | None
    new_number: int | None
    text: str


@lru_cache(maxsize=1)
def _formatter() -> HtmlFormatter[str]:
    return HtmlFormatter(nowrap=True, noclasses=True, style="default")


def highlighted(text: str) -> str:
    """One line of Python as escaped, inline-styled HTML (no trailing newline)."""
    line = text.rstrip("\r\n")
    if not line:
        return "&nbsp;"
    lexer = PythonLexer(stripnl=False, ensurenl=False)
    return highlight(line, lexer, _formatter()).rstrip("\n")


def diff_rows(hunk: Hunk) -> list[DiffRow]:
    """The hunk's lines numbered as a reviewer expects (1-based, per side)."""
    old = hunk.old_start if hunk.old_len else hunk.old_start + 1
    new = hunk.new_start if hunk.new_len else hunk.new_start + 1
    rows = []
    for line in hunk.lines:
        rows.append(
            DiffRow(
                line.tag,
                old if line.tag != "+" else None,
                new if line.tag != "-" else None,
                line.text,
            )
        )
        old += line.tag != "+"
        new += line.tag != "-"
    return rows


def _number(value: int | None) -> str:
    return f'<td style="{_NUMBER}">{value if value is not None else ""}</td>'


def _background(tag: str) -> str:
    return {"-": REMOVED_BG, "+": ADDED_BG}.get(tag, "#ffffff")


def unified_html(hunk: Hunk) -> str:
    """Old and new lines interleaved, removed lines red, added lines green."""
    body = []
    for row in diff_rows(hunk):
        sign = {"-": "&minus;", "+": "+"}.get(row.tag, "&nbsp;")
        body.append(
            f'<tr style="background:{_background(row.tag)}" data-tag="{row.tag.strip() or "="}">'
            f"{_number(row.old_number)}{_number(row.new_number)}"
            f'<td style="{_NUMBER}">{sign}</td>'
            f'<td style="{_CODE}">{highlighted(row.text)}</td></tr>'
        )
    return _TABLE + "".join(body) + "</table>"


def side_by_side_rows(hunk: Hunk) -> list[tuple[DiffRow | None, DiffRow | None]]:
    """Pairs (old, new): context on both sides, each run of removals beside its additions."""
    pairs: list[tuple[DiffRow | None, DiffRow | None]] = []
    removed: list[DiffRow] = []
    added: list[DiffRow] = []

    def flush() -> None:
        for index in range(max(len(removed), len(added))):
            pairs.append(
                (
                    removed[index] if index < len(removed) else None,
                    added[index] if index < len(added) else None,
                )
            )
        removed.clear()
        added.clear()

    for row in diff_rows(hunk):
        if row.tag == "-":
            if added:
                flush()
            removed.append(row)
        elif row.tag == "+":
            added.append(row)
        else:
            flush()
            pairs.append((row, row))
    flush()
    return pairs


def side_by_side_html(hunk: Hunk) -> str:
    """Old text on the left, new text on the right, changed lines paired up."""

    def half(row: DiffRow | None, number: int | None) -> str:
        if row is None:
            blank = f"background:{EMPTY_BG}"
            return f'<td style="{_NUMBER};{blank}"></td><td style="{blank}"></td>'
        return (
            f'<td style="{_NUMBER};background:{_background(row.tag)}">{number}</td>'
            f'<td style="{_CODE};background:{_background(row.tag)};width:49%">'
            f"{highlighted(row.text)}</td>"
        )

    body = [
        "<tr>"
        + half(old, old.old_number if old else None)
        + half(new, new.new_number if new else None)
        + "</tr>"
        for old, new in side_by_side_rows(hunk)
    ]
    return _TABLE + "".join(body) + "</table>"
