"""Names of Playwright-for-Python methods the rules recognise, grouped by how they behave."""

from __future__ import annotations

import re

# Page/Frame methods whose first argument is a selector; each has a Locator twin.
SELECTOR_FIRST = frozenset(
    {
        "check",
        "click",
        "dblclick",
        "dispatch_event",
        "fill",
        "focus",
        "get_attribute",
        "hover",
        "inner_html",
        "inner_text",
        "input_value",
        "is_checked",
        "is_disabled",
        "is_editable",
        "is_enabled",
        "is_hidden",
        "is_visible",
        "press",
        "select_option",
        "set_checked",
        "set_input_files",
        "tap",
        "text_content",
        "type",
        "uncheck",
    }
)
# The Locator method that replaces a Page method, where the name changed.
LOCATOR_RENAMES = {"type": "press_sequentially"}
# Keyword arguments Page methods take and Locator methods do not.
PAGE_ONLY_KEYWORDS = frozenset({"strict"})

# Calls that give a Locator (or a FrameLocator, which behaves the same for chaining).
LOCATOR_FACTORIES = frozenset(
    {
        "locator",
        "get_by_role",
        "get_by_text",
        "get_by_label",
        "get_by_placeholder",
        "get_by_alt_text",
        "get_by_title",
        "get_by_test_id",
        "nth",
        "filter",
        "and_",
        "or_",
        "frame_locator",
        "content_frame",
    }
)
LOCATOR_PROPERTIES = frozenset({"first", "last", "content_frame", "owner"})

# Steps that wait for their target on their own (actionability checks, navigation waits).
AUTO_WAITING = frozenset(
    {
        *SELECTOR_FIRST
        - {"is_checked", "is_disabled", "is_editable", "is_enabled", "is_hidden"}
        - {"is_visible"},
        "press_sequentially",
        "clear",
        "blur",
        "drag_to",
        "drag_and_drop",
        "select_text",
        "scroll_into_view_if_needed",
        "wait_for",
        "wait_for_selector",
        "wait_for_url",
        "wait_for_load_state",
        "wait_for_event",
        "wait_for_function",
        "goto",
        "reload",
        "go_back",
        "go_forward",
        "expect_navigation",
        "expect_popup",
        "expect_response",
        "expect_request",
        "expect_download",
        "expect_file_chooser",
        "all_inner_texts",
        "all_text_contents",
    }
)
# Reads that answer at once, without waiting: the reason people add hard waits before them.
STATE_QUERIES = {
    "is_visible": "to_be_visible",
    "is_hidden": "to_be_hidden",
    "is_enabled": "to_be_enabled",
    "is_disabled": "to_be_disabled",
    "is_checked": "to_be_checked",
    "is_editable": "to_be_editable",
}
# Reads compared with `==` in asserts, and the web-first matcher for each.
VALUE_READS = {
    "inner_text": "to_have_text",
    "text_content": "to_have_text",
    "input_value": "to_have_value",
    "get_attribute": "to_have_attribute",
    "count": "to_have_count",
    "title": "to_have_title",
    "url": "to_have_url",
}
TEXT_READS = frozenset({"inner_text", "text_content"})

# Calls whose URL argument Playwright resolves against the context's base URL.
URL_TAKING = frozenset(
    {"goto", "route", "unroute", "wait_for_url", "expect_request", "expect_response"}
)

_PAGE_NAME = re.compile(r"^(?:page|frame|popup|tab|new_page)\d*$")


def is_page_name(name: str) -> bool:
    """Names that hold a Page or Frame in codegen scripts and pytest-playwright tests."""
    return bool(_PAGE_NAME.match(name))
