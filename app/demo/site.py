"""The demo target app as a pure Starlette ASGI app.

Pages:
- ``/``            links to the others and logs to the browser console;
- ``/login``       a login form (``demo`` / ``demo-password``) leading to ``/welcome``;
- ``/delayed``     an element that appears after ``?ms=`` milliseconds (default 1500);
- ``/flaky``       on a configurable fraction of loads the "Continue" button never appears
                   (``?rate=`` overrides the app's fraction for one load).
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
MAX_DELAY_MS = 30_000


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    )


def _index(_request: Request) -> Response:
    return _page(
        "Demo shop",
        "<h1>Demo shop</h1>"
        "<nav><a href='/login'>Log in</a> <a href='/delayed'>Delayed</a> "
        "<a href='/flaky'>Flaky</a></nav>"
        "<script>console.log('demo app loaded')</script>",
    )


def _login_form(error: str | None = None) -> HTMLResponse:
    message = f"<p role=alert id=error>{html.escape(error)}</p>" if error else ""
    return _page(
        "Log in",
        "<h1>Log in</h1>"
        f"{message}"
        "<form method=post action='/login'>"
        "<label>Username <input name=username id=username autocomplete=username></label>"
        "<label>Password <input name=password id=password type=password></label>"
        "<button type=submit id=login>Log in</button>"
        "</form>",
    )


async def _login(request: Request) -> Response:
    if request.method == "GET":
        return _login_form()
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    if username == DEMO_USERNAME and password == DEMO_PASSWORD:
        response = RedirectResponse("/welcome", status_code=303)
        response.set_cookie("demo_user", username, httponly=True, samesite="lax")
        return response
    return _login_form("Invalid username or password")


def _welcome(request: Request) -> Response:
    user = request.cookies.get("demo_user")
    if not user:
        return RedirectResponse("/login", status_code=303)
    return _page("Welcome", f"<h1 id=welcome>Welcome, {html.escape(user)}</h1>")


def _delayed(request: Request) -> Response:
    try:
        delay = min(max(int(request.query_params.get("ms", "1500")), 0), MAX_DELAY_MS)
    except ValueError:
        return PlainTextResponse("ms must be an integer", status_code=400)
    return _page(
        "Delayed",
        "<h1>Delayed</h1><div id=slot></div>"
        "<script>setTimeout(() => {"
        "const p = document.createElement('p'); p.id = 'delayed-message';"
        "p.textContent = 'Ready'; document.getElementById('slot').appendChild(p);"
        f"}}, {delay});</script>",
    )


def _flaky_handler(default_rate: float, roll: Callable[[], float]) -> Callable[[Request], Response]:
    def flaky(request: Request) -> Response:
        try:
            rate = float(request.query_params.get("rate", default_rate))
        except ValueError:
            return PlainTextResponse("rate must be a number", status_code=400)
        if roll() < rate:
            # Misbehaves like a real flaky page: the call to action never renders.
            return _page(
                "Flaky",
                "<h1>Flaky</h1><p id=status>Something went wrong</p>"
                "<script>console.error('flaky page failed to render')</script>",
            )
        return _page(
            "Flaky",
            "<h1>Flaky</h1><p id=status>OK</p><button id=continue>Continue</button>",
        )

    return flaky


def create_demo_app(
    *, flaky_rate: float = 0.3, roll: Callable[[], float] | None = None
) -> Starlette:
    """The demo target; ``flaky_rate`` is the fraction of ``/flaky`` loads that misbehave."""
    if not 0.0 <= flaky_rate <= 1.0:
        raise ValueError("flaky_rate must be between 0 and 1")
    return Starlette(
        routes=[
            Route("/", _index),
            Route("/login", _login, methods=["GET", "POST"]),
            Route("/welcome", _welcome),
            Route("/delayed", _delayed),
            Route("/flaky", _flaky_handler(flaky_rate, roll or random.random)),
        ]
    )
