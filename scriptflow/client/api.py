"""A small synchronous HTTP client for a scriptflow server, as the CLI commands use it.

It sends the stored bearer token, refreshes it once when the server answers 401 (refresh
tokens rotate, so the new pair is stored at once), and turns the server's error shape
``{"error": {"code", "message", "details"}}`` into `ServerError` with that message.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from scriptflow.client.credentials import Credentials, save_credentials

TIMEOUT_S = 60.0


class ServerError(Exception):
    """The server refused a request; `message` is its own explanation."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({status_code} {code})")
        self.status_code = status_code
        self.code = code
        self.message = message


def normalise_server(url: str) -> str:
    """`url` without a trailing slash; only http(s) URLs with a host are servers."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not a server URL: {url!r} (expected http://host[:port] or https://…)")
    return url.strip().rstrip("/")


def raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "HTTP_ERROR", response.reason_phrase or "request failed"
    raise ServerError(response.status_code, code, message)


def log_in(
    server: str, email: str, password: str, *, transport: httpx.BaseTransport | None = None
) -> Credentials:
    """Exchange a password for tokens at `server`."""
    with httpx.Client(base_url=server, timeout=TIMEOUT_S, transport=transport) as http:
        response = http.post("/v1/auth/login", json={"email": email, "password": password})
    raise_for_error(response)
    tokens = response.json()
    return Credentials(
        server=server,
        email=email,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


class ServerClient:
    """Authenticated requests to the server the credentials name."""

    def __init__(
        self, credentials: Credentials, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.credentials = credentials
        self.http = httpx.Client(
            base_url=credentials.server, timeout=TIMEOUT_S, transport=transport
        )

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The response to an authenticated request, after one token refresh if needed."""
        response = self._send(method, url, **kwargs)
        if response.status_code == 401:
            self._refresh()
            response = self._send(method, url, **kwargs)
        raise_for_error(response)
        return response

    def get_json(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs).json()

    def project_id(self, name: str) -> str:
        """The id of the caller's project called `name` (names are not unique: it must be)."""
        matches: list[str] = []
        url: str | None = "/v1/projects?limit=200"
        while url:
            response = self.request("GET", url)
            matches += [p["id"] for p in response.json() if p["name"] == name]
            url = response.links.get("next", {}).get("url")
        if not matches:
            raise ServerError(404, "PROJECT_NOT_FOUND", f"No project named {name!r} is yours")
        if len(matches) > 1:
            raise ServerError(
                409, "PROJECT_AMBIGUOUS", f"{len(matches)} projects are named {name!r}"
            )
        return matches[0]

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {
            **kwargs.pop("headers", {}),
            "Authorization": f"Bearer {self.credentials.access_token}",
        }
        return self.http.request(method, url, headers=headers, **kwargs)

    def _refresh(self) -> None:
        response = self.http.post(
            "/v1/auth/refresh", json={"refresh_token": self.credentials.refresh_token}
        )
        if response.status_code in (400, 401, 422):
            raise ServerError(
                401, "UNAUTHORIZED", "The stored login expired: run `scriptflow login` again"
            )
        raise_for_error(response)
        tokens = response.json()
        self.credentials = replace(
            self.credentials,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )
        save_credentials(self.credentials)
