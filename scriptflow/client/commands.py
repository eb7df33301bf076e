"""Registers the client commands (login, push, pull, run) on the `scriptflow` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer

from scriptflow.client.api import ServerClient, ServerError, log_in, normalise_server
from scriptflow.client.credentials import NotLoggedIn, load_credentials, save_credentials
from scriptflow.client.run_command import run_command
from scriptflow.client.sync import pull, push

ServerOption = Annotated[
    str, typer.Option("--server", help="The server, e.g. https://qa.example.com")
]
ProjectOption = Annotated[str, typer.Option("--project", help="The project's name")]
FolderArgument = Annotated[
    Path, typer.Argument(help="The suite's folder", file_okay=False, dir_okay=True)
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def login_command(
    server: ServerOption,
    email: Annotated[str, typer.Option(prompt=True, help="Your account's email")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, envvar="SCRIPTFLOW_PASSWORD")
    ],
) -> None:
    """Log in to a scriptflow server and keep the token in your config folder (mode 0600)."""
    try:
        credentials = log_in(normalise_server(server), email, password)
    except (ValueError, ServerError, httpx.HTTPError) as exc:
        raise _fail(str(exc)) from exc
    path = save_credentials(credentials)
    typer.echo(f"Logged in to {credentials.server} as {email}; token stored in {path}")


def push_command(
    folder: FolderArgument,
    project: ProjectOption,
    delete: Annotated[
        bool,
        typer.Option(
            "--delete",
            help="Also delete the project's files the folder no longer has (with their history)",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what the push would do; change nothing")
    ] = False,
) -> None:
    """Sync a local folder into a project's tree (honours .gitignore; deletes only with
    --delete)."""
    if not folder.is_dir():
        raise _fail(f"{folder} is not a folder")
    try:
        with ServerClient(load_credentials()) as client:
            summary = push(client, folder, project, delete=delete, dry_run=dry_run)
    except (NotLoggedIn, ServerError, httpx.HTTPError) as exc:
        raise _fail(str(exc)) from exc
    for label, paths in (
        ("created", summary.created),
        ("updated", summary.updated),
        ("unchanged", summary.unchanged),
        ("deleted", summary.deleted),
    ):
        for path in paths:
            typer.echo(f"{label:<10}{path}")
    for skipped in summary.skipped:
        typer.echo(f"{'skipped':<10}{skipped.path} ({skipped.reason.value})")
    if summary.parts > 1:
        typer.echo(f"sent as {summary.parts} archives (the server's body cap split it)")
    deleted = f", {len(summary.deleted)} deleted" if delete else ""
    typer.echo(
        ("dry run, nothing changed: " if dry_run else "")
        + f"{len(summary.created)} created, {len(summary.updated)} updated, "
        f"{len(summary.unchanged)} unchanged{deleted}, {len(summary.skipped)} skipped"
    )


def pull_command(folder: FolderArgument, project: ProjectOption) -> None:
    """Write a project's files at their current versions into a local folder, byte for byte."""
    try:
        with ServerClient(load_credentials()) as client:
            summary = pull(client, folder, project)
    except (NotLoggedIn, ServerError, httpx.HTTPError) as exc:
        raise _fail(str(exc)) from exc
    for path in summary.written:
        typer.echo(f"{'written':<10}{path}")
    for path in summary.refused:
        typer.echo(f"{'refused':<10}{path} (outside the folder, or a local file is in the way)")
    typer.echo(
        f"{len(summary.written)} written, {len(summary.unchanged)} unchanged, "
        f"{len(summary.refused)} refused"
    )
    if summary.refused:
        raise typer.Exit(code=1)


def register(cli: typer.Typer) -> None:
    """Add the commands that talk to a scriptflow server to `cli`."""
    cli.command("login")(login_command)
    cli.command("push")(push_command)
    cli.command("pull")(pull_command)
    cli.command("run")(run_command)
