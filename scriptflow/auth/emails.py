"""Email identity: one spelling per address, and one account per look-alike family.

`normalise_email` is what we store and log in with: NFKC (fullwidth U+FF41 becomes `a`) and
lower case. `email_skeleton` is the UTS #39 skeleton of that: NFD, every character replaced by
its confusables prototype (Cyrillic U+0430 becomes Latin `a`, `1` and `I` become `l`), NFD again.
Two addresses with one skeleton look the same to a person, so the second cannot register.

The prototypes come from Unicode's `confusables.txt` (UTS #39 data, version in the table's
header), shipped as `confusables.tsv`: two columns of code points, no comments, ~80 KB. We ship
the table instead of depending on a package because the packages that carry it either load a
2.7 MB JSON map at import or do not expose the skeleton operation itself; the table was made
by keeping the first two fields of each data line of that file.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources


def normalise_email(email: str) -> str:
    """The stored, compared spelling: compatibility-normalised, trimmed, lower case."""
    return unicodedata.normalize("NFKC", email).strip().lower()


@cache
def _prototypes() -> dict[str, str]:
    table: dict[str, str] = {}
    text = resources.files("scriptflow.auth").joinpath("confusables.tsv").read_text("utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        source, target = line.split("\t")
        table[chr(int(source, 16))] = "".join(chr(int(cp, 16)) for cp in target.split())
    return table


def email_skeleton(email: str) -> str:
    """UTS #39 skeleton of the normalised address: equal skeletons are confusable."""
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", normalise_email(email))
    mapped = "".join(prototypes.get(ch, ch) for ch in decomposed)
    return unicodedata.normalize("NFD", mapped)
