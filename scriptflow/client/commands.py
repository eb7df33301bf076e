"""Registers the client commands (login, push, pull, run) on the `scriptflow` command."""

from __future__ import annotations

import typer


def register(cli: typer.Typer) -> None:
    """Add the commands that talk to a scriptflow server to `cli`."""
