"""Cross-domain effects: a domain reports what happened; the handlers run after commit.

A use case that changes something other domains care about records an event on its unit of
work (`record`). `scriptflow.db.engine.transaction` dispatches the recorded events once the
transaction has committed, and drops them when it rolls back. Which handlers run is declared
once, in the event table of the composition root (`scriptflow.wiring`), and reaches a unit of
work through the sessionmaker the root built (`attach`). A sessionmaker built without a table
(a one-off script, a unit test) records events and dispatches nothing.

Handlers run one after the other; a failing handler is logged and never fails the use case,
which has already committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from scriptflow.config import Settings

log = logging.getLogger("scriptflow.events")

_TABLE_KEY = "scriptflow.event_table"
_PENDING_KEY = "scriptflow.pending_events"


@dataclass(frozen=True)
class HandlerContext:
    """What every handler may use: its own units of work and the settings."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings


Handler = Callable[[HandlerContext, Any], Awaitable[None]]


@dataclass
class EventTable:
    """Event type → handlers, bound to the sessionmaker and settings they run with."""

    handlers: Mapping[type, Sequence[Handler]]
    context: HandlerContext | None = field(default=None)

    async def dispatch(self, event: object) -> None:
        """Run every handler of the event's type; errors are logged, never raised."""
        if self.context is None:
            return
        for handler in self.handlers.get(type(event), ()):
            try:
                await handler(self.context, event)
            except Exception:
                log.exception("handler %s failed for %r", handler.__qualname__, event)


def attach(sessionmaker: async_sessionmaker[AsyncSession], table: EventTable) -> None:
    """Make every unit of work of this sessionmaker dispatch through `table` after commit."""
    info = sessionmaker.kw.setdefault("info", {})
    info[_TABLE_KEY] = table


def table_of(sessionmaker: async_sessionmaker[AsyncSession]) -> EventTable | None:
    """The event table this sessionmaker was built with, if any."""
    table = sessionmaker.kw.get("info", {}).get(_TABLE_KEY)
    return table if isinstance(table, EventTable) else None


async def dispatch(sessionmaker: async_sessionmaker[AsyncSession], event: object) -> None:
    """Dispatch an event that happened outside a unit of work (it has committed already)."""
    table = table_of(sessionmaker)
    if table is not None:
        await table.dispatch(event)


def record(session: AsyncSession, event: object) -> None:
    """Report an event; it is dispatched after this unit of work commits."""
    session.info.setdefault(_PENDING_KEY, []).append(event)


def discard_pending(session: AsyncSession) -> None:
    """Forget the recorded events (the unit of work rolled back)."""
    session.info.pop(_PENDING_KEY, None)


async def dispatch_pending(session: AsyncSession) -> None:
    """Dispatch the events recorded on a unit of work that has just committed."""
    pending: list[object] = session.info.pop(_PENDING_KEY, [])
    table = session.info.get(_TABLE_KEY)
    if not pending or not isinstance(table, EventTable):
        return
    for event in pending:
        await table.dispatch(event)
