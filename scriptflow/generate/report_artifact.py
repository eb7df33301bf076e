"""The name of the exploration report: the sandboxed explorer writes it, the server reads it.

Kept apart from the explorer, which needs Playwright, so the server can name the file without
loading Playwright at start-up.
"""

ARTIFACT_STEM = "exploration"
ARTIFACT_SUFFIX = ".json"
