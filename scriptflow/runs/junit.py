"""JUnit XML out (as pytest's ``--junitxml`` writes it) and in (pytest's, Playwright's) (pure).

Out: one ``<testsuites>`` with one ``<testsuite name="pytest">``; a test case's ``classname``
and ``name`` are made from its node id the way pytest's ``mangle_test_address`` does. Retries are
visible the way Maven Surefire (and the junit-10 schema pytest validates against) spells them: a
flaky test passes with a ``<flakyFailure>`` per failed attempt, a test that failed every attempt
has ``<failure>`` then a ``<rerunFailure>`` per retry.

In: the document is hostile. It is parsed with defusedxml (no entities, no DTDs, no external
references) after a size check, and at most ``MAX_IMPORTED_TESTS`` cases are read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped]

from scriptflow.errors import PayloadTooLarge, ValidationFailed

MAX_JUNIT_BYTES = 10 * 1024 * 1024
MAX_IMPORTED_TESTS = 20_000
MAX_MESSAGE_CHARS = 4000
# Characters XML 1.0 cannot carry at all; pytest's bin_xml_escape replaces them too.
_ILLEGAL_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SCRIPT_SUFFIXES = (".ts", ".js", ".mjs", ".cjs", ".tsx", ".jsx", ".py")


@dataclass(frozen=True)
class JUnitCase:
    """One test as JUnit sees it; ``outcome`` in scriptflow's words."""

    node_id: str
    outcome: str  # passed | failed | flaky | skipped | error
    duration_ms: int
    attempts: int
    error: str | None


def xml_text(text: str | None) -> str:
    """Text XML can hold: illegal characters become ``#x..`` as pytest writes them."""
    if not text:
        return ""
    return _ILLEGAL_XML.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def junit_address(node_id: str) -> tuple[str, str]:
    """``(classname, name)`` of a node id, as pytest's junitxml writes them."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    if len(names) == 1:
        return "", names[0]
    return ".".join(names[:-1]), names[-1]


def display_name(node_id: str) -> str:
    """A test's name as runs show it: ``test_total`` for ``tests/x.py::test_total[chromium]``
    (the browser parameter pytest-playwright adds is dropped, as the run plugin does)."""
    name = node_id.split("::")[-1]
    name = re.sub(r"\[(chromium|firefox|webkit)\]$", "", name)
    return re.sub(r"-(chromium|firefox|webkit)\]$", "]", name)


def _seconds(ms: int) -> str:
    return f"{max(ms, 0) / 1000:.3f}"


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:MAX_MESSAGE_CHARS] if stripped else ""


def write_junit(
    tests: Sequence[Mapping[str, object]],
    *,
    started_at: datetime | None,
    duration_ms: int,
    hostname: str = "scriptflow",
) -> bytes:
    """A run's tests (``nodeid``, ``outcome``, ``duration_ms``, ``attempts``, ``error``) as
    pytest's xunit2 JUnit XML."""
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    cases = []
    for test in tests:
        node_id = str(test.get("nodeid") or test.get("name") or "")
        outcome = str(test.get("outcome") or "error")
        attempts = max(int(str(test.get("attempts") or 1)), 1)
        error = xml_text(str(test.get("error") or ""))
        classname, name = junit_address(node_id)
        case = ET.Element(
            "testcase",
            {"classname": classname, "name": xml_text(name), "time": _seconds(_ms(test))},
        )
        if outcome == "failed":
            counts["failures"] += 1
            _child(case, "failure", error)
            for _ in range(attempts - 1):
                _child(case, "rerunFailure", error, kind="failure")
        elif outcome == "error":
            counts["errors"] += 1
            _child(case, "error", error)
        elif outcome == "skipped":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", {"type": "pytest.skip", "message": _first_line(error)})
        elif outcome == "flaky":
            for _ in range(attempts - 1):
                _child(case, "flakyFailure", error, kind="failure")
        cases.append(case)
    suite = ET.Element(
        "testsuite",
        {
            "name": "pytest",
            "errors": str(counts["errors"]),
            "failures": str(counts["failures"]),
            "skipped": str(counts["skipped"]),
            "tests": str(len(cases)),
            "time": _seconds(duration_ms),
            "timestamp": started_at.isoformat() if started_at else "",
            "hostname": hostname,
        },
    )
    suite.extend(cases)
    root = ET.Element("testsuites", {"name": "pytest tests"})
    root.append(suite)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + body


def _ms(test: Mapping[str, object]) -> int:
    value = test.get("duration_ms") or 0
    return int(value) if isinstance(value, int | float) else 0


def _child(case: ET.Element, tag: str, error: str, *, kind: str | None = None) -> None:
    attributes = {"message": _first_line(error)}
    if kind is not None:
        attributes["type"] = kind
    ET.SubElement(case, tag, attributes).text = error


# --- import ---------------------------------------------------------------------------------


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed.for_field("body", message, message=message)


def parse_junit(document: bytes, tree: Iterable[str] = ()) -> list[JUnitCase]:
    """The test cases of a JUnit XML report (pytest, Playwright, Surefire-style reruns)."""
    if len(document) > MAX_JUNIT_BYTES:
        raise PayloadTooLarge(f"A JUnit report may have at most {MAX_JUNIT_BYTES} bytes")
    try:
        root = SafeET.fromstring(document, forbid_dtd=True)
    except DefusedXmlException:
        raise _invalid("The report uses DTDs or entities, which are refused") from None
    except ET.ParseError as exc:
        raise _invalid(f"The report is not well-formed XML: {exc}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise _invalid("The report's root must be <testsuites> or <testsuite>")
    paths = set(tree)
    cases: list[JUnitCase] = []
    for element in root.iter("testcase"):
        if len(cases) >= MAX_IMPORTED_TESTS:
            raise _invalid(f"A report may hold at most {MAX_IMPORTED_TESTS} test cases")
        cases.append(_case(element, paths))
    if not cases:
        raise _invalid("The report holds no test cases")
    return cases


def _case(element: ET.Element, tree: set[str]) -> JUnitCase:
    name = (element.get("name") or "").strip()
    if not name:
        raise _invalid("A <testcase> has no name")
    classname = (element.get("classname") or "").strip()
    node_id = node_id_of(classname, name, element.get("file"), tree)
    try:
        duration_ms = int(float(element.get("time") or 0) * 1000)
    except ValueError:
        duration_ms = 0
    tags = [child.tag for child in element]
    final = next((c for c in element if c.tag in ("failure", "error", "errors")), None)
    reruns = [c for c in element if c.tag in ("rerunFailure", "rerunError")]
    flaky = [c for c in element if c.tag in ("flakyFailure", "flakyError")]
    error: str | None
    if final is not None:
        outcome = "failed" if final.tag == "failure" else "error"
        error = _message(final)
        attempts = 1 + len(reruns)
    elif "skipped" in tags:
        outcome, attempts = "skipped", 1
        error = _message(next(c for c in element if c.tag == "skipped")) or None
    elif flaky:
        outcome, attempts, error = "flaky", 1 + len(flaky), _message(flaky[0])
    else:
        outcome, attempts, error = "passed", 1, None
    return JUnitCase(node_id[:500], outcome, max(duration_ms, 0), attempts, error)


def _message(element: ET.Element) -> str:
    text = element.get("message") or ""
    body = (element.text or "").strip()
    if body.startswith(text):
        text = body  # pytest repeats the message as the first line of the body
    elif body:
        text = f"{text}\n{body}" if text else body
    return text[:MAX_MESSAGE_CHARS]


def node_id_of(classname: str, name: str, file: str | None, tree: set[str]) -> str:
    """A pytest-style node id for a JUnit case.

    Playwright names the spec file as the class (``tests/cart.spec.ts``); pytest a dotted
    module plus classes (``tests.test_cart.TestCart``), which is turned back into a path using
    the project's tree when it holds the file, else by taking the segments up to the first
    ``test_*``/``*_test`` module.
    """
    if file and not classname:
        return f"{file}::{name}"
    if "/" in classname or classname.endswith(_SCRIPT_SUFFIXES):
        return f"{classname}::{name}"
    segments = [s for s in classname.split(".") if s]
    if not segments:
        return name
    for cut in range(len(segments), 0, -1):
        candidate = "/".join(segments[:cut]) + ".py"
        if candidate in tree:
            return "::".join([candidate, *segments[cut:], name])
    cut = next(
        (i + 1 for i, s in enumerate(segments) if s.startswith("test_") or s.endswith("_test")),
        len(segments),
    )
    return "::".join(["/".join(segments[:cut]) + ".py", *segments[cut:], name])
