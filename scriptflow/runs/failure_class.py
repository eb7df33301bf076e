"""Why a run failed, in ReportPortal's triage classes, decided by rules over its error (pure).

- ``system``: the run never got to test the product: the environment was unreachable, the
  browser crashed or could not start, the run itself errored.
- ``automation``: the test code is at fault: a locator matched nothing or too much, an action
  timed out waiting, the script does not import or raises on its own.
- ``product``: the product did not do what the test expects: an assertion failed.

A failure that no rule recognises is ``automation``, the class a reviewer looks at first.
"""

from __future__ import annotations

import re
from enum import StrEnum


class FailureClass(StrEnum):
    PRODUCT = "product"
    AUTOMATION = "automation"
    SYSTEM = "system"


_SYSTEM = re.compile(
    r"net::ERR_(?:CONNECTION_REFUSED|CONNECTION_RESET|CONNECTION_CLOSED|NAME_NOT_RESOLVED"
    r"|ADDRESS_UNREACHABLE|INTERNET_DISCONNECTED|TUNNEL_CONNECTION_FAILED|PROXY_CONNECTION_FAILED"
    r"|UNSAFE_PORT|CONNECTION_TIMED_OUT|TIMED_OUT|SSL_PROTOCOL_ERROR|CERT_\w+)"
    r"|Target (?:page, context or browser|crashed)|[Bb]rowser (?:has been closed|has disconnected"
    r"|closed|crashed)|Executable doesn't exist|BrowserType\.launch"
    r"|ECONNREFUSED|No space left on device|MemoryError|Killed",
)
_AUTOMATION = re.compile(
    r"strict mode violation|waiting for (?:locator|selector|get_by_\w+)|Timeout \d+ms exceeded"
    r"|element is not (?:attached|visible|enabled|stable)|not an? <\w+>"
    r"|\b(?:SyntaxError|NameError|ImportError|ModuleNotFoundError|AttributeError|TypeError)\b"
    r"|fixture '\w+' not found",
)
_PRODUCT = re.compile(
    r"\bAssertionError\b|^\s*assert\b|Locator expected to|Page expected to|expected to (?:have|be)"
    r"|\bto_(?:have|be|contain)_\w+",
    re.MULTILINE,
)


def failure_class(status: str, error: str | None) -> FailureClass | None:
    """The class of a failed or errored run (or test) from its error; None when it did not fail."""
    if status not in ("failed", "error"):
        return None
    text = error or ""
    if _SYSTEM.search(text):
        return FailureClass.SYSTEM
    # An assertion on a page that answered is the product; a wait that timed out is the script.
    if _PRODUCT.search(text) and not _AUTOMATION.search(text.split("Call log:", 1)[0]):
        return FailureClass.PRODUCT
    if status == "error" and not text:
        return FailureClass.SYSTEM
    return FailureClass.AUTOMATION
