"""Live progress of a running run: the run process's progress file, tailed into `run_events`.

The plugin (``scriptflow.runs.engine.record.ProgressLog``) appends a JSON line when a test
starts, a step ends and a test ends. The run's script can write that file too, so the worker
treats it as hostile: ``tail`` reads it without following links and within a byte budget,
``parse`` keeps only well-formed events with bounded fields and gives each one the position
of the test it belongs to by counting (never an id from the file), and ``service`` stores
them in batches at most once a second and serves them to the API and the run page.
"""
