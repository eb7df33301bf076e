"""The engine: the pytest plugin loaded inside every run process (never by our own suite).

It turns pytest + pytest-playwright into scriptflow's engine:

- every browser launch (the ``browser`` fixture's and a codegen script's own
  ``launch(headless=False)``) uses the configured browser, headless, or connects to the
  remote endpoint;
- contexts default to the environment's base URL, so ``page.goto("/login")`` works in both forms;
- steps are recorded by wrapping the public sync API (``Page``, ``Locator``, ``expect``), which
  works for fixture tests and codegen scripts alike and costs nothing at run time, unlike parsing
  a trace afterwards;
- failed tests are re-run up to ``retries`` times (failed then passed is "flaky");
- each context is traced (``trace.zip``), its console is logged, and a failing test's pages are
  screenshotted; every artifact is size-capped;
- results are rewritten to a JSON file after every test, so a killed run still reports its
  progress, and every test start, step and test end is appended to a progress file that the
  worker tails for the live run page.

It imports only the standard library, pytest and Playwright: it runs in a scrubbed process.
``plugin`` holds the hooks (``-p scriptflow.runs.engine.plugin``), ``record`` what is observed,
``playwright_patches`` the patched Playwright and ``codegen_async`` the async codegen driver.
"""
