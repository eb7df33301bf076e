"""How the notebooks' Altair charts carry their rows to the browser."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def rows_inside_spec() -> Iterator[None]:
    """Charts built inside carry their rows in their spec, as a CSV data URL.

    marimo's default serves each chart's rows as a file of its own, which the browser fetches
    through the server only once the chart's output has arrived: a request per chart (seven
    on the dashboard) after the last cell. The notebooks' charts hold aggregates (buckets,
    top lists), a few kilobytes, so inside the spec costs nothing and saves those waits.
    """
    import altair as alt

    try:
        from marimo._plugins.ui._impl.charts.altair_transformer import register_transformers
    except ImportError:  # marimo moved it: its default (rows as files) still works
        yield
        return
    register_transformers()  # marimo registers its transformers on its first chart
    with alt.data_transformers.enable("marimo_inline_csv"):
        yield
