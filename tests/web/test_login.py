"""The browser login: the form, the session cookie, the guarded pages, logout."""

from __future__ import annotations

import re

import httpx

from app.web.session_auth import SESSION_COOKIE
from tests.factories import DEFAULT_PASSWORD, signup

HTML = {"accept": "text/html,application/xhtml+xml"}


async def test_login_form_has_email_password_and_one_submit_button(
    web_client: httpx.AsyncClient,
) -> None:
    r = await web_client.get("/login")
    assert r.status_code == 200
    page = r.text
    assert re.search(r'<label for="email">Email</label>', page)
    assert re.search(r'<label for="password">Password</label>', page)
    assert len(re.findall(r"<button", page)) == 1
    assert "http://" not in page and "https://" not in page  # loads nothing from elsewhere
    assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_anonymous_page_request_is_sent_to_login(web_client: httpx.AsyncClient) -> None:
    for path in ("/dashboard/", "/notebooks/review/"):
        r = await web_client.get(path, headers=HTML)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")


async def test_anonymous_api_call_of_a_notebook_is_401_in_the_error_shape(
    web_client: httpx.AsyncClient,
) -> None:
    r = await web_client.post("/dashboard/api/kernel/instantiate", json={})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHORIZED"


async def test_login_sets_an_httponly_samesite_cookie_and_opens_the_dashboard(
    web_client: httpx.AsyncClient,
) -> None:
    account = await signup(web_client)
    r = await web_client.post(
        "/login",
        data={"email": account.email.upper(), "password": DEFAULT_PASSWORD, "next": "/dashboard/"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()

    r = await web_client.get("/dashboard/", headers=HTML)
    assert r.status_code == 200
    assert "<html" in r.text.lower()
    # Run mode with the code hidden: the notebook's source is not in the page.
    assert "app.setup" not in r.text


async def test_wrong_password_shows_the_form_again_without_a_cookie(
    web_client: httpx.AsyncClient,
) -> None:
    account = await signup(web_client)
    r = await web_client.post("/login", data={"email": account.email, "password": "wrong-one"})
    assert r.status_code == 401
    assert "Invalid email or password" in r.text
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")


async def test_login_never_redirects_to_another_site(web_client: httpx.AsyncClient) -> None:
    account = await signup(web_client)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/v1/scripts"):
        r = await web_client.post(
            "/login", data={"email": account.email, "password": DEFAULT_PASSWORD, "next": target}
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/dashboard/"
        web_client.cookies.clear()


async def test_logout_clears_the_cookie(web_client: httpx.AsyncClient) -> None:
    account = await signup(web_client)
    await web_client.post("/login", data={"email": account.email, "password": DEFAULT_PASSWORD})
    assert (await web_client.get("/dashboard/", headers=HTML)).status_code == 200
    r = await web_client.post("/logout")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert (await web_client.get("/dashboard/", headers=HTML)).status_code == 303


async def test_a_copy_of_the_cookie_is_worthless_after_logout(
    web_client: httpx.AsyncClient,
) -> None:
    account = await signup(web_client)
    await web_client.post("/login", data={"email": account.email, "password": DEFAULT_PASSWORD})
    copy = web_client.cookies[SESSION_COOKIE]
    # A link on another site may clear the cookie but revokes nothing.
    await web_client.get("/logout", headers={"Sec-Fetch-Site": "cross-site"})
    web_client.cookies.set(SESSION_COOKIE, copy)
    assert (await web_client.get("/dashboard/", headers=HTML)).status_code == 200
    await web_client.post("/logout")
    web_client.cookies.set(SESSION_COOKIE, copy)
    r = await web_client.get("/dashboard/", headers=HTML)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_logging_out_through_the_api_ends_the_browser_session(
    web_client: httpx.AsyncClient,
) -> None:
    account = await signup(web_client)
    await web_client.post("/login", data={"email": account.email, "password": DEFAULT_PASSWORD})
    assert (await web_client.get("/dashboard/", headers=HTML)).status_code == 200
    r = await web_client.post("/auth/logout", json={}, headers=account.headers)
    assert r.status_code in (200, 204), r.text
    assert (await web_client.get("/dashboard/", headers=HTML)).status_code == 303


async def test_a_forged_cookie_is_refused(
    web_client: httpx.AsyncClient,
) -> None:
    web_client.cookies.set(SESSION_COOKIE, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
    r = await web_client.get("/dashboard/", headers=HTML)
    assert r.status_code == 303


async def test_the_login_form_is_rate_limited(
    web_client: httpx.AsyncClient, settings: object
) -> None:
    app = web_client._transport.app  # type: ignore[attr-defined]
    app.state.rate_limiters["login"].per_minute = 3
    statuses = [
        (await web_client.post("/login", data={"email": "x@example.com", "password": "nope"}))
        for _ in range(4)
    ]
    assert [r.status_code for r in statuses] == [401, 401, 401, 429]
    assert "Retry-After" in statuses[-1].headers


async def test_a_login_posted_from_another_site_is_refused(web_client: httpx.AsyncClient) -> None:
    account = await signup(web_client)
    r = await web_client.post(
        "/login",
        data={"email": account.email, "password": DEFAULT_PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
