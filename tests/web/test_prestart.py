"""Who may join a notebook session, and which page's websocket claims a started kernel (pure).

The browser side (the prestarted dashboard shown to its user, another user's session id
refused, an abandoned launch closed) is in ``test_browser.py``.
"""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace
from typing import Any

from app.web.prestart import Launch, Prestarts, Recorder, notebook_query

APP = "/dashboard"


class Manager:
    """The parts of marimo's session manager the guard reads: sessions and waiting launches."""

    mode = SimpleNamespace(value="run")

    def __init__(self) -> None:
        self.sessions: dict[str, object] = {}
        self._pending: dict[str, object] = {}

    def get_session(self, session_id: str) -> object | None:
        return self.sessions.get(session_id)


def socket(user: uuid.UUID, session_id: str, query: str = "") -> dict[str, Any]:
    qs = f"session_id={session_id}" + (f"&{query}" if query else "")
    return {
        "type": "websocket",
        "path": f"{APP}/ws",
        "root_path": APP,
        "query_string": qs.encode(),
        "headers": [],
        "user": SimpleNamespace(user_id=user),
    }


def api_call(user: uuid.UUID, session_id: str) -> dict[str, Any]:
    return {
        "type": "http",
        "path": f"{APP}/api/kernel/set_ui_element_value",
        "root_path": APP,
        "query_string": b"",
        "headers": [(b"marimo-session-id", session_id.encode())],
        "user": SimpleNamespace(user_id=user),
    }


def waiting(prestarts: Prestarts, manager: Manager, owner: uuid.UUID, query: str = "") -> Launch:
    """A launch as a page request leaves it: registered with marimo under its own id."""
    session_id = f"prestart-{uuid.uuid4().hex}"
    launch = Launch(
        app=APP,
        manager=manager,
        session_id=session_id,
        owner=owner,
        query=notebook_query(query.encode()),
        started=time.monotonic(),
        recorder=Recorder(session_id),
    )
    prestarts.waiting.append(launch)
    prestarts.owners[(APP, session_id)] = (owner, time.monotonic(), manager)
    manager._pending[session_id] = object()
    return launch


def test_the_pages_websocket_claims_its_users_launch_and_nobody_elses() -> None:
    prestarts, manager = Prestarts(), Manager()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    for_alice = waiting(prestarts, manager, alice, "script=1")
    held = manager._pending[for_alice.session_id]

    # Bob's page, or Alice's page of another script, takes nothing.
    assert prestarts.admit(APP, manager, socket(bob, "s_bob001", "script=1"))
    assert prestarts.admit(APP, manager, socket(alice, "s_alic01", "script=2"))
    assert not for_alice.claimed and "s_bob001" not in manager._pending

    # Her page's websocket, under the id its frontend made up, is handed the launch.
    assert prestarts.admit(APP, manager, socket(alice, "s_alic02", "script=1"))
    assert for_alice.claimed and prestarts.claimed == 1 and prestarts.waiting == []
    assert manager._pending == {"s_alic02": held}


def test_of_two_launches_of_the_same_page_the_newest_is_claimed() -> None:
    # A page requested twice (a reload before the first connected): the fresher numbers win.
    prestarts, manager = Prestarts(), Manager()
    alice = uuid.uuid4()
    older, newer = waiting(prestarts, manager, alice), waiting(prestarts, manager, alice)
    assert prestarts.admit(APP, manager, socket(alice, "s_alic01"))
    assert newer.claimed and not older.claimed and prestarts.waiting == [older]


def test_another_users_session_id_is_refused_on_every_way_in() -> None:
    prestarts, manager = Prestarts(), Manager()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    assert prestarts.admit(APP, manager, socket(alice, "s_alic01"))
    manager.sessions["s_alic01"] = object()

    assert not prestarts.admit(APP, manager, socket(bob, "s_alic01"))
    assert not prestarts.admit(APP, manager, api_call(bob, "s_alic01"))
    # Her own reconnect and calls go on.
    assert prestarts.admit(APP, manager, socket(alice, "s_alic01"))
    assert prestarts.admit(APP, manager, api_call(alice, "s_alic01"))
    # A live session nobody was seen opening is nobody's to join, nor a launch's own id.
    manager.sessions["s_other1"] = object()
    assert not prestarts.admit(APP, manager, socket(alice, "s_other1"))
    launch = waiting(prestarts, manager, alice)
    assert not prestarts.admit(APP, manager, socket(bob, launch.session_id))
    assert prestarts.refused == 4
