"""The browser login form, the session cookie it sets, and logout."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.web.session_auth import LOGIN_PATH, SESSION_COOKIE, safe_next_path, same_origin
from scriptflow.auth.service import (
    access_claims,
    authenticate,
    end_browser_session,
    user_for_claims,
)
from scriptflow.auth.tokens import TokenConfig, issue_access_token
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import RateLimited, Unauthorized
from scriptflow.ratelimit import RateLimiter

DEFAULT_LANDING = "/dashboard/"

# Inline styles only: the page must load nothing from anywhere else.
PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · scriptflow</title>
<style>
  body {{ font-family: system-ui, sans-serif; background: #f4f5f7; margin: 0; }}
  main {{ max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem;
         border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
  h1 {{ font-size: 1.3rem; margin: 0 0 1.2rem; }}
  label {{ display: block; margin: .8rem 0 .3rem; font-weight: 600; }}
  input {{ width: 100%; box-sizing: border-box; padding: .55rem; font-size: 1rem;
          border: 1px solid #c4c8cf; border-radius: 4px; }}
  button {{ margin-top: 1.4rem; width: 100%; padding: .6rem; font-size: 1rem; border: 0;
           border-radius: 4px; background: #2d5bd1; color: #fff; cursor: pointer; }}
  .error {{ color: #a4161a; background: #fdecec; padding: .5rem; border-radius: 4px; }}
</style>
</head>
<body>
<main>
  <h1>Sign in to scriptflow</h1>
  {message}
  <form method="post" action="{action}">
    <input type="hidden" name="next" value="{next}">
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required value="{email}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button>
  </form>
</main>
</body>
</html>
"""


def render_login_page(*, next_path: str, email: str = "", error: str | None = None) -> str:
    """The login form; every value is escaped."""
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return LOGIN_PAGE.format(
        message=message,
        action=LOGIN_PATH,
        next=html.escape(next_path, quote=True),
        email=html.escape(email, quote=True),
    )


def build_login_router(
    settings: Settings, guarded_prefixes: tuple[str, ...], fallback_limiter: RateLimiter
) -> APIRouter:
    """`GET/POST /login` and `/logout`, kept out of the API schema."""
    router = APIRouter(include_in_schema=False)

    def login_page(
        next_path: str, *, status: int = 200, email: str = "", error: str | None = None
    ) -> HTMLResponse:
        return HTMLResponse(
            render_login_page(next_path=next_path, email=email, error=error),
            status_code=status,
            headers=PAGE_SECURITY_HEADERS,
        )

    @router.get(LOGIN_PATH)
    async def show_login(request: Request) -> Response:
        next_path = safe_next_path(
            request.query_params.get("next"), guarded_prefixes, DEFAULT_LANDING
        )
        return login_page(next_path)

    @router.post(LOGIN_PATH)
    async def submit_login(
        request: Request,
        email: Annotated[str, Form(max_length=320)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        next: Annotated[str, Form(max_length=2048)] = "",
    ) -> Response:
        next_path = safe_next_path(next, guarded_prefixes, DEFAULT_LANDING)
        if not same_origin(request.scope):
            # Another site posting our form would sign the browser into the attacker's account.
            return login_page(next_path, status=403, error="Sign in from this site's own page.")
        limiter = login_limiter(request, fallback_limiter)
        client = request.client.host if request.client else "unknown"
        try:
            await limiter.acheck(f"web-login:{client}")
        except RateLimited as exc:
            response = login_page(
                next_path, status=429, email=email, error="Too many attempts; wait a minute."
            )
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
            return response
        try:
            async with transaction(request.app.state.sessionmaker) as session:
                user = await authenticate(session, email, password)
        except Unauthorized as exc:
            return login_page(next_path, status=401, email=email, error=exc.message)
        token_config: TokenConfig = request.app.state.token_config
        redirect = RedirectResponse(next_path, status_code=303)
        token = issue_access_token(token_config, user.id, token_version=user.token_version)
        set_session_cookie(redirect, request, settings, token)
        return redirect

    @router.api_route("/logout", methods=["GET", "POST"])
    async def logout(request: Request) -> Response:
        if asked_by_this_site(request):
            await end_session_of_cookie(request)
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_secure(request)
        )
        return response

    return router


def asked_by_this_site(request: Request) -> bool:
    """A logout this site asked for: a same-origin POST, or a navigation the browser marks as
    ours or typed (`Sec-Fetch-Site`). A link on another site only clears the cookie here."""
    if request.method == "POST":
        return same_origin(request.scope)
    return request.headers.get("sec-fetch-site", "").lower() in ("same-origin", "none")


async def end_session_of_cookie(request: Request) -> None:
    """Revoke the session token itself, so a copy of the cookie is worthless after logout."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return
    try:
        claims = access_claims(request.app.state.token_config, token)
        async with transaction(request.app.state.sessionmaker) as session:
            user = await user_for_claims(session, claims)
            await end_browser_session(session, user.id)
    except Unauthorized:
        return  # already invalid: nothing to revoke


def login_limiter(request: Request, fallback: RateLimiter) -> RateLimiter:
    """The API's login limiter when the app has one, so the form is no way around it."""
    limiters = getattr(request.app.state, "rate_limiters", None) or {}
    limiter = limiters.get("login") if isinstance(limiters, dict) else None
    return limiter if isinstance(limiter, RateLimiter) else fallback


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(
    response: Response, request: Request, settings: Settings, token: str
) -> None:
    """HttpOnly so scripts cannot read it; SameSite=Lax so other sites cannot ride on it."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.jwt_expires_in,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure(request) or settings.is_production,
    )
