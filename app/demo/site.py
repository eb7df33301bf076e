"""The demo target app as a pure Starlette ASGI app.

Pages:
- ``/``            links to the others and logs to the browser console;
- ``/login``       a login form (``demo`` / ``demo-password``) leading to ``/welcome``;
- ``/delayed``     an element that appears after ``?ms=`` milliseconds (default 1500);
- ``/flaky``       on a configurable fraction of loads the "Continue" button never appears
                   (``?rate=`` overrides the app's fraction for one load);
- ``/signup``      a sign-up form with several field types (text, email, password, select,
                   radio, checkbox, textarea) leading to ``/signup/done``;
- ``/products``    a repeated list: every product has its own "Add to cart" button, so the
                   button's role and name alone match several elements; ``/cart`` confirms;
- ``/newsletter``  a form whose confirmation appears only after a delay, on the same URL.
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable
from urllib.parse import urlencode

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


PRODUCTS = ("Apple", "Banana", "Cherry")
NEWSLETTER_DELAY_MS = 1200


def _signup(_request: Request) -> Response:
    return _page(
        "Sign up",
        "<h1>Sign up</h1>"
        "<form method=post action='/signup'>"
        "<label>Full name <input name=name required></label>"
        "<label>Email <input name=email type=email required></label>"
        "<label>Password <input name=password type=password minlength=8 required></label>"
        "<label>Plan <select name=plan><option value=''>Choose a plan</option>"
        "<option value=free>Free</option><option value=pro>Pro</option></select></label>"
        "<fieldset><legend>Contact me by</legend>"
        "<label><input type=radio name=contact value=email> Email me</label>"
        "<label><input type=radio name=contact value=phone> Call me</label></fieldset>"
        "<label>About you <textarea name=about></textarea></label>"
        "<label><input type=checkbox name=terms required> I accept the terms</label>"
        "<button type=submit data-testid=signup-submit>Create account</button>"
        "</form>",
    )


async def _signup_post(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not name or not form.get("terms"):
        return _page("Sign up", "<h1>Sign up</h1><p role=alert>Name and terms are required</p>")
    plan = str(form.get("plan", "")) or "free"
    query = urlencode({"name": name, "plan": plan})
    return RedirectResponse(f"/signup/done?{query}", status_code=303)


def _signup_done(request: Request) -> Response:
    name = request.query_params.get("name", "")
    plan = request.query_params.get("plan", "free")
    return _page(
        "Account created",
        f"<h1>Welcome aboard, {html.escape(name)}</h1>"
        f"<p role=status>Your {html.escape(plan)} account is ready</p>",
    )


def _products(_request: Request) -> Response:
    items = "".join(
        f"<li><h2>{name}</h2><form method=post action='/cart'>"
        f"<input type=hidden name=item value={name.lower()}>"
        "<button type=submit>Add to cart</button></form></li>"
        for name in PRODUCTS
    )
    return _page("Products", f"<h1>Products</h1><ul>{items}</ul>")


async def _cart(request: Request) -> Response:
    if request.method == "POST":
        form = await request.form()
        item = str(form.get("item", ""))
        return RedirectResponse(f"/cart?{urlencode({'added': item})}", status_code=303)
    added = request.query_params.get("added", "")
    known = {name.lower(): name for name in PRODUCTS}
    message = f"{known[added]} is in your cart" if added in known else "Your cart is empty"
    return _page("Cart", f"<h1>Cart</h1><p role=status>{html.escape(message)}</p>")


def _newsletter(_request: Request) -> Response:
    return _page(
        "Newsletter",
        "<h1>Newsletter</h1>"
        "<form id=subscribe><label>Email <input name=email type=email required></label>"
        "<button type=submit>Subscribe</button></form><div id=result></div>"
        "<script>document.getElementById('subscribe').addEventListener('submit', (e) => {"
        "e.preventDefault(); const email = e.target.email.value;"
        "setTimeout(() => { const p = document.createElement('p');"
        "p.setAttribute('role', 'status'); p.textContent = 'Subscribed ' + email;"
        f"document.getElementById('result').appendChild(p); }}, {NEWSLETTER_DELAY_MS});"
        "});</script>",
    )


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
            Route("/signup", _signup),
            Route("/signup", _signup_post, methods=["POST"]),
            Route("/signup/done", _signup_done),
            Route("/products", _products),
            Route("/cart", _cart, methods=["GET", "POST"]),
            Route("/newsletter", _newsletter),
        ]
    )
