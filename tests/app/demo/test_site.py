"""The demo target behaves as tests and demos rely on (over plain HTTP, no browser)."""

from __future__ import annotations

import httpx
import pytest

from app.demo.server import DemoServer
from app.demo.site import DEMO_PASSWORD, DEMO_USERNAME, create_demo_app


def client(**kwargs: object) -> httpx.AsyncClient:
    app = create_demo_app(**kwargs)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo")


async def test_login_with_the_demo_credentials_reaches_the_welcome_page() -> None:
    async with client() as c:
        form = (await c.get("/login")).text
        assert "id=username" in form and "id=password" in form
        r = await c.post("/login", data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/welcome"
        welcome = await c.get("/welcome")
        assert "Welcome, demo" in welcome.text


async def test_wrong_password_shows_an_error() -> None:
    async with client() as c:
        r = await c.post("/login", data={"username": "demo", "password": "nope"})
        assert r.status_code == 200 and "Invalid username or password" in r.text


async def test_delayed_page_renders_its_element_after_the_requested_delay() -> None:
    async with client() as c:
        assert "}, 250);" in (await c.get("/delayed?ms=250")).text
        assert (await c.get("/delayed?ms=abc")).status_code == 400


@pytest.mark.parametrize(("rate", "broken"), [(0.0, False), (1.0, True)])
async def test_flaky_page_misbehaves_on_the_configured_fraction(rate: float, broken: bool) -> None:
    async with client(flaky_rate=rate) as c:
        body = (await c.get("/flaky")).text
        assert ("id=continue" not in body) is broken


async def test_flaky_fraction_is_about_right() -> None:
    rolls = iter([0.1, 0.5, 0.9, 0.2, 0.7])
    async with client(flaky_rate=0.3, roll=lambda: next(rolls)) as c:
        broken = ["id=continue" not in (await c.get("/flaky")).text for _ in range(5)]
    assert broken == [True, False, False, True, False]
    with pytest.raises(ValueError):
        create_demo_app(flaky_rate=1.5)


def test_demo_server_serves_on_loopback() -> None:
    with DemoServer() as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert "Demo shop" in httpx.get(server.base_url + "/").text
