"""A strict structural check of JUnit XML against the junit-10 schema pytest validates with.

pytest's own tests validate ``--junitxml`` (xunit2) against ``junit-10.xsd`` (Gregory
Boissinot's Surefire-derived schema). This encodes that schema's rules: which elements may
appear where, required attributes, and the time pattern; plus ``error``, which pytest writes for
setup errors.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SUREFIRE_TIME = re.compile(r"^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]{0,3})?$")
RERUN = {"rerunFailure", "rerunError", "flakyFailure", "flakyError"}
CASE_CHILDREN = {"skipped", "error", "errors", "failure", "system-out", "system-err"} | RERUN
SUITE_CHILDREN = {"testsuite", "properties", "testcase", "system-out", "system-err"}
SUITE_ATTRIBUTES = {
    "name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp",
    "hostname", "id", "package", "file", "log", "url", "version",
}  # fmt: skip
CASE_ATTRIBUTES = {"name", "time", "classname", "group"}
OUTCOME_ATTRIBUTES = {"type", "message"}


def _attributes(
    element: ET.Element, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
) -> None:
    unknown = set(element.attrib) - allowed
    assert not unknown, f"<{element.tag}> has attributes the schema lacks: {sorted(unknown)}"
    missing = set(required) - set(element.attrib)
    assert not missing, f"<{element.tag}> lacks required attributes {sorted(missing)}"


def _text_only(element: ET.Element) -> None:
    assert len(element) == 0, f"<{element.tag}> may hold text only"


def _case(case: ET.Element) -> None:
    _attributes(case, CASE_ATTRIBUTES, {"name"})
    for child in case:
        assert child.tag in CASE_CHILDREN, f"<testcase> may not hold <{child.tag}>"
        if child.tag in RERUN:
            _attributes(child, OUTCOME_ATTRIBUTES, {"type"})
            for part in child:
                assert part.tag in {"stackTrace", "system-out", "system-err"}, part.tag
        elif child.tag in {"system-out", "system-err"}:
            _attributes(child, set())
            _text_only(child)
        else:
            _attributes(child, OUTCOME_ATTRIBUTES)
            _text_only(child)


def _suite(suite: ET.Element) -> None:
    _attributes(suite, SUITE_ATTRIBUTES, {"name", "tests", "failures", "errors"})
    if "time" in suite.attrib:
        assert SUREFIRE_TIME.match(suite.attrib["time"]), suite.attrib["time"]
    for child in suite:
        assert child.tag in SUITE_CHILDREN, f"<testsuite> may not hold <{child.tag}>"
        if child.tag == "testsuite":
            _suite(child)
        elif child.tag == "testcase":
            _case(child)
        elif child.tag == "properties":
            for prop in child:
                assert prop.tag == "property"
                _attributes(prop, {"name", "value"}, {"name", "value"})
        else:
            _text_only(child)


def assert_valid_junit(document: bytes) -> None:
    """Fail unless ``document`` is JUnit XML the junit-10 schema accepts."""
    root = ET.fromstring(document)  # noqa: S314 (our own output, in a test)
    if root.tag == "testsuite":
        _suite(root)
        return
    assert root.tag == "testsuites", root.tag
    _attributes(root, {"name", "time", "tests", "failures", "errors"})
    if "time" in root.attrib:
        assert SUREFIRE_TIME.match(root.attrib["time"]), root.attrib["time"]
    for suite in root:
        assert suite.tag == "testsuite", f"<testsuites> may not hold <{suite.tag}>"
        _suite(suite)
