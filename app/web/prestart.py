"""Start a notebook's kernel with its page request, so its cells run while the frontend boots.

marimo starts a session only when the page's frontend has booted and opened its websocket,
1.0 to 1.3 s after the HTML; only then does the kernel run the cells. Here the page request
launches the session at once, for the signed-in user and the page's query string, and the
page's websocket attaches to it when it comes.

How it attaches. marimo's frontend makes up its own session id (in run mode it ignores one in
the URL). marimo's session manager can hold a launch no connection has attached yet (its
``_pending`` launches, keyed by session id), and the first websocket that names one attaches as
a *new* connection: kernel-ready, then the outputs so far, no "Reconnected" banner. So when a
page's websocket arrives with a session id marimo does not know, the newest launch made for
the same user, app and query string is re-keyed to that id. Nothing else of marimo changes;
when its internals are not what this expects, no launch is made and pages work as before.

What keeps it safe:

- **Every session id has an owner**: the signed-in user whose page or websocket first named
  it. A websocket, event stream or API call naming another user's session id is refused
  (marimo alone lets anyone who knows a session id take the session over).
- **Launches are bounded.** One no page claims within ``POLICY.ttl_s`` is closed; a user has at
  most ``POLICY.per_user`` waiting (a new page closes the oldest), the process
  ``POLICY.total``.
- **Nothing is lost before attaching.** The launch's cells run as the page's (its user, its
  query string). What marimo's replay to a new connection leaves out is added: when each
  cell's run started (without it the frontend refuses a table's calls to the kernel), and the
  query-string changes (``shell.pin``), which the launch records and hands to the page right
  after the replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Scope

from app.web.prestart_replay import Recorder, timed_replay

LOGGER = logging.getLogger(__name__)

# Query keys that name the connection rather than the notebook's input.
CONNECTION_KEYS = frozenset({"session_id", "access_token", "refresh_token", "kiosk", "file"})
SESSION_HEADER = b"marimo-session-id"
# How long an owner is remembered after its session has gone (a websocket may still be opening).
OWNER_GRACE_S = 60.0

Query = tuple[tuple[str, str], ...]


@dataclass
class PrestartPolicy:
    enabled: bool = True
    ttl_s: float = 30.0
    per_user: int = 3
    total: int = 16
    # The apps whose pages start their kernel. Measured: the dashboard's cells (0.5-2 s) run
    # while the frontend boots; the step apps' take 0.1-0.3 s and gained nothing measurable,
    # and generate's editor lost what was typed after a refused save when prestarted.
    apps: frozenset[str] = frozenset({"/dashboard"})


POLICY = PrestartPolicy()


def notebook_query(query_string: bytes) -> Query:
    """The query string as the notebook sees it: its own keys, sorted."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return tuple(sorted((k, v) for k, v in pairs if k not in CONNECTION_KEYS))


def named_session(scope: Scope) -> str | None:
    """The marimo session id a request names (query ``session_id`` or marimo's header)."""
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if key == "session_id":
            return value
    for key, raw in scope.get("headers", []):
        if key == SESSION_HEADER:
            return str(raw.decode("latin-1"))
    return None


def user_of(scope: Scope) -> uuid.UUID | None:
    user = scope.get("user")
    user_id = getattr(user, "user_id", None)
    return user_id if isinstance(user_id, uuid.UUID) else None


def supports(manager: Any) -> bool:
    """Whether marimo's session manager holds launches the way this module expects."""
    return (
        manager is not None
        and isinstance(getattr(manager, "_pending", None), dict)
        and callable(getattr(manager, "is_session_starting", None))
        and callable(getattr(manager, "create_session", None))
        and getattr(getattr(manager, "mode", None), "value", None) == "run"
    )


@dataclass(eq=False)
class Launch:
    app: str
    manager: Any
    session_id: str
    owner: uuid.UUID
    query: Query
    started: float
    recorder: Recorder
    claimed: bool = False
    closed: bool = False
    session: Any = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Prestarts:
    """Every notebook app's launches, and the owner of every session id they have seen."""

    def __init__(self, policy: PrestartPolicy = POLICY) -> None:
        self.policy = policy
        self.waiting: list[Launch] = []
        self.owners: dict[tuple[str, str], tuple[uuid.UUID, float, Any]] = {}
        self._pruned = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        # What became of the launches: claimed by their page, closed unclaimed, refusals.
        self.claimed = 0
        self.closed = 0
        self.refused = 0

    # The page request

    def launch(self, app: str, manager: Any, scope: Scope) -> Launch | None:
        """Start the page's session now (not awaited); None when none is made."""
        user_id = user_of(scope)
        if not self.policy.enabled or app not in self.policy.apps:
            return None
        if user_id is None or not supports(manager):
            return None
        mine = [launch for launch in self.waiting if launch.owner == user_id]
        while mine and len(mine) >= self.policy.per_user:
            self.close(mine.pop(0))
        if len(self.waiting) >= self.policy.total:
            return None
        session_id = f"prestart-{uuid.uuid4().hex}"
        launch = Launch(
            app=app,
            manager=manager,
            session_id=session_id,
            owner=user_id,
            query=notebook_query(scope.get("query_string", b"")),
            started=time.monotonic(),
            recorder=Recorder(session_id),
        )
        self.waiting.append(launch)
        self.owners[(app, session_id)] = (user_id, time.monotonic(), manager)
        launch.task = asyncio.create_task(self._run(launch, dict(scope)))
        self._tasks.add(launch.task)
        launch.task.add_done_callback(self._tasks.discard)
        return launch

    async def _run(self, launch: Launch, scope: Scope) -> None:
        try:
            await self._start(launch, scope)
            await asyncio.sleep(max(0.0, launch.started + self.policy.ttl_s - time.monotonic()))
            if not launch.claimed:
                LOGGER.debug("closing an unclaimed notebook launch %s", launch.session_id)
                self.close(launch)
        except asyncio.CancelledError:
            self.close(launch)
            raise
        except Exception:
            LOGGER.exception("a notebook launch failed")
            self.close(launch)

    async def _start(self, launch: Launch, scope: Scope) -> None:
        from marimo._messaging.types import NoopStream
        from marimo._runtime.commands import HTTPRequest
        from marimo._runtime.params import QueryParams
        from marimo._session.requests import InstantiateNotebookRequest
        from marimo._types.ids import SessionId
        from starlette.requests import Request

        manager = launch.manager
        params = QueryParams({}, NoopStream())
        for key, value in parse_qsl(
            scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        ):
            if key not in QueryParams.IGNORED_KEYS:
                params.append(key, value)
        # marimo registers the launch before it first waits; a caller that stops waiting
        # leaves it to the first connection that names its id (marimo's own path when a
        # websocket drops while its kernel starts).
        attach = asyncio.ensure_future(
            manager.create_session(
                session_id=SessionId(launch.session_id),
                session_consumer=launch.recorder,
                query_params=params.to_dict(),
                file_key=manager.workspace.get_unique_file_key(),
                auto_instantiate=True,
                main=False,
            )
        )
        await asyncio.sleep(0)
        attach.cancel()
        try:
            await attach
        except asyncio.CancelledError:
            # Only the attach's own cancellation is expected here: a cancellation of this task
            # (the server stopping) must go on, or the launch outlives it by its whole ttl.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        pending = manager._pending.get(launch.session_id)
        if pending is None:
            return
        session = await asyncio.shield(pending.task)
        launch.session = session
        if launch.closed:
            self.close(launch)
            return
        if session.room.main_consumer is not None:
            return  # the page attached first and instantiated it itself
        self._hand_over_on_attach(launch, session)
        session.session_view.__class__ = timed_replay(type(session.session_view))
        session.instantiate(
            InstantiateNotebookRequest(object_ids=[], values=[], auto_run=True),
            http_request=HTTPRequest.from_request(Request(scope)),
        )
        instantiate = session.instantiate

        def instantiated_already(request: Any, *, http_request: Any) -> None:
            # The attaching page asks once (run mode); its cells already ran for it.
            del request, http_request
            session.instantiate = instantiate

        session.instantiate = instantiated_already

    def _hand_over_on_attach(self, launch: Launch, session: Any) -> None:
        """Record until a page attaches, then give it what the replay leaves out."""
        session.connect_consumer(launch.recorder, main=False)
        connect = session.connect_consumer

        def connect_consumer(consumer: Any, *, main: bool) -> None:
            connect(consumer, main=main)
            if not main:
                return
            session.connect_consumer = connect

            def hand_over() -> None:
                # After marimo's kernel-ready and replay, which it sends in the same turn.
                session.disconnect_consumer(launch.recorder)
                for message in launch.recorder.messages:
                    consumer.notify(message)

            asyncio.get_running_loop().call_soon(hand_over)

        session.connect_consumer = connect_consumer

    def close(self, launch: Launch) -> None:
        """Close a launch no page has claimed (its session, once it exists)."""
        if launch in self.waiting:
            self.waiting.remove(launch)
        if launch.claimed:
            return
        if not launch.closed:
            launch.closed = True
            self.closed += 1
        if launch.session is not None:
            with contextlib.suppress(Exception):
                launch.manager.close_session(launch.session_id)

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # A connection naming a session

    def admit(self, app: str, manager: Any, scope: Scope) -> bool:
        """May this request go on? A page's websocket claims the launch made for its page."""
        session_id = named_session(scope)
        if session_id is None:
            return True  # marimo answers a request without a session itself
        user_id = user_of(scope)
        if user_id is None:
            return False
        self._prune()
        key = (app, session_id)
        known = self.owners.get(key)
        exists = manager is not None and self._exists(manager, session_id)
        if (known is not None and known[0] != user_id) or (known is None and exists):
            # Another user's session, or one whose owner is not known: nobody's to join.
            self.refused += 1
            return False
        if (
            not exists
            and scope["type"] == "websocket"
            and scope["path"].removeprefix(scope.get("root_path", "")) == "/ws"
        ):
            self._claim(app, manager, session_id, user_id, scope)
        self.owners[key] = (user_id, time.monotonic(), manager)
        return True

    def _claim(
        self, app: str, manager: Any, session_id: str, user_id: uuid.UUID, scope: Scope
    ) -> None:
        query = notebook_query(scope.get("query_string", b""))
        # The newest: most likely this page's own request, and the freshest numbers.
        for launch in reversed(self.waiting):
            if launch.app != app or launch.owner != user_id or launch.query != query:
                continue
            pending = manager._pending.pop(launch.session_id, None)
            if pending is None:
                continue
            manager._pending[session_id] = pending  # marimo renames the session on attach
            launch.claimed = True
            self.claimed += 1
            self.waiting.remove(launch)
            self.owners.pop((app, launch.session_id), None)
            return  # the loop ends here: removing from the list it walks is safe

    @staticmethod
    def _exists(manager: Any, session_id: str) -> bool:
        if manager.get_session(session_id) is not None:
            return True
        pending = getattr(manager, "_pending", None)
        return isinstance(pending, dict) and session_id in pending

    def _prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned < OWNER_GRACE_S:
            return
        self._pruned = now
        for key, (_, seen, manager) in list(self.owners.items()):
            if now - seen > OWNER_GRACE_S and not (
                manager is not None and self._exists(manager, key[1])
            ):
                del self.owners[key]
