"""What a launched session needs from marimo before its page attaches: a replay with each
cell's run start, and a consumer that keeps the query-string changes (see ``prestart``)."""

from __future__ import annotations

from typing import Any

# What marimo's session view leaves out of a new connection's replay and the notebooks send.
QUERY_PARAM_OPS = frozenset(
    {"query-params-set", "query-params-append", "query-params-delete", "query-params-clear"}
)


def run_started(view: Any, notification: Any) -> float | None:
    """When a finished cell's run started, from marimo's session view; None if not timed."""
    from marimo._messaging.notification import CellNotification

    if not isinstance(notification, CellNotification) or notification.status != "idle":
        return None
    output = notification.output
    if output is not None and output.mimetype == "application/vnd.marimo+error":
        return None  # stopped or failed: not a run the frontend times
    elapsed_ms = view.last_execution_time.get(notification.cell_id)
    return None if elapsed_ms is None else float(notification.timestamp) - elapsed_ms / 1000


_TIMED: dict[type, type] = {}


def timed_replay(view_type: type) -> type:
    """marimo's session view, replaying each finished cell with the start of its run.

    marimo replays a cell's merged state (its output, idle) without the start of its run, so
    the frontend counts the cell as never run and refuses its UI elements' calls to the kernel
    (a table's paging, sorting and search: "The cell containing this UI element has not been
    run yet"). A start with the run's real time just before the cell's state sets that right;
    sent after the replay instead, a table rendered in between had already called.
    """
    from marimo._messaging.notification import CellNotification

    class TimedReplay(view_type):  # type: ignore[valid-type,misc]
        @property
        def notifications(self) -> list[Any]:
            replay: list[Any] = []
            for notification in view_type.notifications.fget(self):  # type: ignore[attr-defined]
                started = run_started(self, notification)
                if started is not None:
                    replay.append(
                        CellNotification(
                            cell_id=notification.cell_id, status="running", timestamp=started
                        )
                    )
                replay.append(notification)
            return replay

    return _TIMED.setdefault(view_type, TimedReplay)


class Recorder:
    """A consumer of a launched session until its page attaches: keeps query-string changes."""

    def __init__(self, session_id: str) -> None:
        from marimo._types.ids import ConsumerId

        self._id = ConsumerId(f"prestart:{session_id}")
        self.messages: list[Any] = []

    @property
    def consumer_id(self) -> Any:
        return self._id

    def notify(self, notification: Any) -> None:
        from marimo._messaging.serde import try_deserialize_kernel_notification_name

        if try_deserialize_kernel_notification_name(notification) in QUERY_PARAM_OPS:
            self.messages.append(notification)

    def connection_state(self) -> Any:
        from marimo._session.model import ConnectionState

        return ConnectionState.OPEN

    def on_attach(self, session: Any, event_bus: Any) -> None:
        del session, event_bus

    def on_detach(self) -> None:
        return None
