"""Background services started with the app (run workers, …) and stopped in reverse order.

Each entry is `async def start(app) -> stop`, where `stop` is an async callable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI

Stopper = Callable[[], Awaitable[None]]
Starter = Callable[[FastAPI], Awaitable[Stopper]]


async def start_run_workers(app: FastAPI) -> Stopper:
    """The embedded run worker pool (``SCRIPTFLOW_WORKERS`` tasks; 0 disables it)."""
    from scriptflow.runs.pool import WorkerPool

    pool = WorkerPool(app.state.sessionmaker, app.state.settings).start()
    app.state.run_pool = pool
    return pool.stop


async def start_generation_jobs(app: FastAPI) -> Stopper:
    """Where generated change sets wait for their verification runs; cancelled at shutdown,
    resumed at start."""
    from scriptflow.generate.jobs import GenerationJobs
    from scriptflow.generate.service import verify_generated, waiting_verifications

    jobs = app.state.generation_jobs = GenerationJobs()
    # A server stopped mid-verification left its change sets `generating`; their runs are in
    # the queue (or done), so the wait resumes. Finishing is conditional: servers that both
    # resume one change set agree on its outcome.
    for changeset_id in await waiting_verifications(app.state.sessionmaker):
        jobs.start(
            verify_generated(app.state.sessionmaker, changeset_id, settings=app.state.settings)
        )
    return jobs.stop


async def start_warehouse_compaction(app: FastAPI) -> Stopper:
    """Scheduled DuckLake compaction (one at a time across the deployment; docs/insights.md)."""
    from scriptflow.insights.compaction import start_compaction, stop_compaction

    task = start_compaction(app.state.settings)

    async def stop() -> None:
        await stop_compaction(task)

    return stop


async def start_warehouse_drain(app: FastAPI) -> Stopper:
    """The lake writer's drain of the warehouse queue (one writer per deployment, elected)."""
    from scriptflow.insights.warehouse_drain import start_drain

    drain = start_drain(app.state.sessionmaker, app.state.settings)
    return drain.close


async def start_warm_up(app: FastAPI) -> Stopper:
    """The insight refresh and impact report paths, exercised once per process in the
    background: the embedded workers' first refreshes and the first impact reports served
    after a start are not the slow ones (``scriptflow.insights.warm_up``)."""
    from scriptflow.insights.warm_up import start_warm_up as warm
    from scriptflow.insights.warm_up import stop_warm_up

    warm(app.state.sessionmaker)
    return stop_warm_up


BACKGROUND_SERVICES: list[Starter] = [
    start_warm_up,
    start_warehouse_drain,
    start_run_workers,
    start_generation_jobs,
    start_warehouse_compaction,
]
