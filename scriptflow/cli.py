"""The `scriptflow` command."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from scriptflow.client.commands import register as register_client_commands
from scriptflow.config import ConfigurationError, Settings, get_settings
from scriptflow.logs import configure_logging

cli = typer.Typer(
    help="scriptflow: browser test scripts from generation to guarded AI enhancement, "
    "real-browser runs and evidenced insights.",
    no_args_is_help=True,
    add_completion=False,
)
user_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
cli.add_typer(user_cli, name="user")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="API processes sharing the port. More than one needs PostgreSQL; serve the "
            "notebooks from `scriptflow notebooks` then (--no-notebooks, docs/deploy.md).",
        ),
    ] = 1,
    notebooks: Annotated[
        bool | None,
        typer.Option(
            help="Serve the dashboard and notebook apps here too (default: SCRIPTFLOW_NOTEBOOKS, "
            "on). Their kernels live in the process that opened them: off behind a load "
            "balancer without sticky sessions.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Migrate the database and serve the API (OpenAPI UI at /docs)."""
    options: dict[str, bool] = {} if notebooks is None else {"notebooks": notebooks}
    _serve_app(host=host, port=port, reload=reload, workers=workers, env=options)


@cli.command()
def notebooks(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
) -> None:
    """Serve the dashboard and notebook apps from one process of their own (kernels stay here).

    API processes then run `scriptflow serve --no-notebooks` behind the load balancer, which
    sends /dashboard and /notebooks/ here: no sticky sessions needed. Runs started from a
    notebook are queued for the `scriptflow worker` processes (no run workers in this one
    unless SCRIPTFLOW_WORKERS says so).
    """
    import os

    os.environ.setdefault("SCRIPTFLOW_WORKERS", "0")
    _serve_app(host=host, port=port, reload=False, workers=1, env={"notebooks": True})


def _serve_app(*, host: str, port: int, reload: bool, workers: int, env: dict[str, bool]) -> None:
    import os

    import uvicorn

    # The app is built from the environment (`app.main:app`), in this process or in each of
    # uvicorn's: the options reach it there.
    for name, value in env.items():
        os.environ[f"SCRIPTFLOW_{name.upper()}"] = "true" if value else "false"
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        settings.resolve_jwt_secret()
    except ConfigurationError as exc:
        typer.echo(f"scriptflow refuses to start: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if workers > 1 and not settings.resolved_database_url.startswith("postgresql"):
        typer.echo(
            "scriptflow refuses to start: --workers above 1 needs DATABASE_URL on PostgreSQL "
            "(the embedded SQLite default is for one process)",
            err=True,
        )
        raise typer.Exit(2)
    if workers > 1:
        # Migrate and create the analytics catalog once here, not in N racing processes.
        _migrate(settings)
    faces = "API, dashboard and notebooks" if settings.notebooks else "API"
    typer.echo(f"scriptflow {faces} on http://{host}:{port}  (OpenAPI UI: /docs)")
    from scriptflow.runs.isolation import harden_server_process

    harden_server_process()  # no same-uid process reads our environ or memory
    # Forwarded headers only from SCRIPTFLOW_TRUSTED_PROXIES (none by default): uvicorn's own
    # default trusts X-Forwarded-For from loopback, where every run's proxy connects from.
    trusted = settings.trusted_proxies.replace(" ", "")
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        reload=reload,
        workers=workers if workers > 1 else None,
        log_config=None,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_keep_alive=settings.keep_alive_s,
    )


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database schema and create the analytics catalog once."""
    from scriptflow.db import migrate as migrations

    settings = get_settings()
    url = settings.resolved_database_url
    created = _migrate(settings, revision)
    typer.echo(f"database at revision {migrations.current_revision(url)}")
    typer.echo("analytics catalog created" if created else "analytics catalog present")


def _migrate(settings: Settings, revision: str = "head") -> bool:
    """Upgrade the SQL schema, then create the DuckLake catalog if missing (True if created)."""
    from scriptflow.db import migrate as migrations
    from scriptflow.insights.warehouse_sync import create_warehouse

    migrations.upgrade(settings.resolved_database_url, revision)
    return create_warehouse(settings)


@user_cli.command("create")
def user_create(
    email: Annotated[str, typer.Option(prompt=True, help="The user's email.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="SCRIPTFLOW_NEW_USER_PASSWORD",
            help="At least 8 characters (prompted when omitted).",
        ),
    ],
) -> None:
    """Create a user with a personal project."""
    from scriptflow.db import migrate as migrations
    from scriptflow.db.engine import create_engine, create_sessionmaker, transaction
    from scriptflow.errors import ScriptflowError
    from scriptflow.projects.accounts import register

    settings = get_settings()
    migrations.upgrade(settings.resolved_database_url)

    async def go() -> str:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                user = await register(session, email, password)
                return str(user.id)
        finally:
            await engine.dispose()

    try:
        user_id = asyncio.run(go())
    except ScriptflowError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created user {email} ({user_id})")


@cli.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Runs executed at once (default: SCRIPTFLOW_WORKERS).")
    ] = None,
) -> None:
    """Execute queued test runs until SIGINT/SIGTERM (any number of these share one database)."""
    from scriptflow.runs.isolation import IsolationUnavailable, choose_isolation

    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        choose_isolation(settings)  # before migrating: say what is missing, plainly
    except IsolationUnavailable as exc:
        typer.echo(f"scriptflow worker refuses to start: {exc.message}", err=True)
        raise typer.Exit(2) from None
    asyncio.run(_run_workers(settings, concurrency))


async def _run_workers(settings: Settings, concurrency: int | None) -> None:
    """The `scriptflow worker` process: migrate, run a pool until SIGINT or SIGTERM."""
    import signal

    from scriptflow.insights.compaction import start_compaction, stop_compaction
    from scriptflow.insights.warehouse_drain import start_drain
    from scriptflow.insights.warehouse_sync import warehouse_for
    from scriptflow.insights.warm_up import start_warm_up, stop_warm_up
    from scriptflow.runs.pool import WorkerPool
    from scriptflow.wiring import wire

    await asyncio.to_thread(_migrate, settings)
    # Attach the warehouse now (loading DuckDB's extensions takes seconds), not after the
    # first run, whose sync would then lag behind it.
    await asyncio.to_thread(warehouse_for(settings).connection)
    wiring = wire(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    count = concurrency if concurrency is not None else max(settings.workers, 1)
    pool = WorkerPool(wiring.sessionmaker, settings, count=count).start()
    start_warm_up(wiring.sessionmaker)  # beside the first runs, done before they end
    compaction = start_compaction(settings)
    drain = start_drain(wiring.sessionmaker, settings)
    try:
        await stop.wait()
    finally:
        await stop_warm_up()
        await stop_compaction(compaction)
        await pool.stop()
        await drain.close()
        await wiring.close()


@cli.command()
def demo(
    email: Annotated[str, typer.Option(help="Demo user's email.")] = "demo@scriptflow.dev",
    # A published default for a local demo account, printed at start; not a secret.
    password: Annotated[str, typer.Option(help="Demo user's password.")] = "scriptflow-demo",  # noqa: S107
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Set up a demo with real run history, then serve the API, dashboard and notebooks."""
    import os

    from app.demo.command import run_demo

    # The terminal shows progress and URLs; logs only when asked for. Set before the settings
    # are read (and cached): the served app configures logging from them again.
    os.environ.setdefault("SCRIPTFLOW_LOG_LEVEL", "WARNING")
    settings = get_settings()
    configure_logging(settings.log_level)
    run_demo(settings, email=email, password=password, host=host, port=port, echo=typer.echo)


analytics_cli = typer.Typer(help="The analytics warehouse of run history.", no_args_is_help=True)
cli.add_typer(analytics_cli, name="analytics")


@analytics_cli.command("rebuild")
def analytics_rebuild() -> None:
    """Recreate the analytics warehouse from the SQL database."""
    from scriptflow.errors import ScriptflowError
    from scriptflow.insights.warehouse_sync import rebuild_warehouse

    settings = get_settings()
    try:
        _migrate(settings)
        done = rebuild_warehouse(settings)
    except ScriptflowError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"warehouse rebuilt: {done.runs} runs, {done.tests} tests, {done.steps} steps")


@analytics_cli.command("compact")
def analytics_compact() -> None:
    """Write small appends out as Parquet and merge small files (waits for a running one)."""
    from scriptflow.errors import ScriptflowError
    from scriptflow.insights.warehouse_sync import close_warehouses, compact_warehouse

    settings = get_settings()
    try:
        _migrate(settings)
        done = compact_warehouse(settings, wait=True)
    except ScriptflowError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        close_warehouses()
    typer.echo(
        f"warehouse compacted in {done.seconds:.2f} s: {done.inlined_rows_before} inlined rows "
        f"written out, {done.files_before} data files before, {done.files_after} after"
    )


register_client_commands(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
