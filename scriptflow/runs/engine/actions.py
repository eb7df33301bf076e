"""The Playwright methods the run's patches wrap: the actions recorded as steps (on a page, on a
locator), the ones before which the element a selector matches is noted for a locator hint, and
the methods that build a locator (each built locator remembers the file and line that built it).

Assertions (``expect(...).to_*``) are every ``to_*``/``not_to_*`` method, found at install.
"""

from __future__ import annotations

# Actions on one element: before the first of them per selector, the run notes what the element
# is (ARIA role and name, test id) so that enhancement can suggest a user-facing locator.
HINT_ACTIONS = frozenset(
    [
        "click",
        "dblclick",
        "fill",
        "type",
        "press",
        "press_sequentially",
        "check",
        "uncheck",
        "set_checked",
        "select_option",
        "hover",
        "tap",
        "clear",
        "text_content",
        "inner_text",
        "input_value",
    ]
)
PAGE_ACTIONS = [
    "goto",
    "reload",
    "go_back",
    "go_forward",
    "click",
    "dblclick",
    "fill",
    "type",
    "press",
    "check",
    "uncheck",
    "select_option",
    "hover",
    "focus",
    "tap",
    "set_input_files",
    "wait_for_selector",
    "wait_for_url",
    "wait_for_load_state",
    "wait_for_timeout",
    "text_content",
    "inner_text",
    "input_value",
    "get_attribute",
    "is_visible",
    "is_hidden",
    "is_enabled",
    "is_checked",
    "drag_and_drop",
]
LOCATOR_ACTIONS = [
    "click",
    "dblclick",
    "fill",
    "type",
    "press",
    "press_sequentially",
    "check",
    "uncheck",
    "set_checked",
    "select_option",
    "hover",
    "focus",
    "blur",
    "tap",
    "clear",
    "set_input_files",
    "wait_for",
    "text_content",
    "inner_text",
    "inner_html",
    "input_value",
    "get_attribute",
    "is_visible",
    "is_hidden",
    "is_enabled",
    "is_disabled",
    "is_checked",
    "is_editable",
    "all_text_contents",
    "all_inner_texts",
    "count",
    "drag_to",
    "scroll_into_view_if_needed",
    "select_text",
    "dispatch_event",
]
# Methods that build a locator: each built locator remembers the file and line that built it.
LOCATOR_BUILDERS = (
    "locator",
    "get_by_role",
    "get_by_text",
    "get_by_test_id",
    "get_by_label",
    "get_by_placeholder",
    "get_by_alt_text",
    "get_by_title",
    "filter",
    "nth",
)
# Page methods whose first argument is a selector (the others take a URL, a time or nothing).
PAGE_SELECTOR_ACTIONS = frozenset(PAGE_ACTIONS) - {
    "goto",
    "reload",
    "go_back",
    "go_forward",
    "wait_for_url",
    "wait_for_load_state",
    "wait_for_timeout",
}
