"""`GET /v1/scripts/{id}` answered beneath the framework: the API's hottest read.

CI systems poll a script before every run, so this one route skips FastAPI's routing,
dependency solving and response validation: it parses the bearer token with the app's one
parser, verifies it with the app's cached verifier, runs the one statement that also checks
membership, activity and token version, and serialises `ScriptOut` with pydantic's own
serialiser, so the bytes are the ones the routed endpoint would send. Errors use the same
mapping (`app.errors`); a malformed id falls through to the routed endpoint, which owns
the 422. Request ids, access logs and metrics still come from the middleware around it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import error_body
from app.schemas.scripts import ScriptOut
from scriptflow.auth.service import user_for_claims
from scriptflow.auth.tokens import AccessTokenVerifier, bearer_token
from scriptflow.db.engine import transaction
from scriptflow.errors import NotFound, ScriptflowError
from scriptflow.scripts.paths import FileKind
from scriptflow.scripts.service import read_script

_SCRIPT_PATH = re.compile(r"^/(?:v1/)?scripts/([0-9A-Fa-f-]{32,36})$")
_JSON = (b"content-type", b"application/json")


@dataclass(frozen=True)
class _Template:
    path: str


_VERSIONED = _Template("/v1/scripts/{script_id}")
_UNVERSIONED = _Template("/scripts/{script_id}")


class HotScriptReads:
    """Pure ASGI: serves `GET /v1/scripts/{uuid}` (and the unversioned twin) directly."""

    def __init__(self, app: ASGIApp, *, state: Any) -> None:
        self.app = app
        # The FastAPI app's state: engine and sessionmaker appear there during its lifespan.
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _SCRIPT_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        try:
            script_id = uuid.UUID(match[1])
        except ValueError:
            await self.app(scope, receive, send)
            return
        # Metrics and access logs label a request by the template of the route it matched.
        scope["route"] = _VERSIONED if scope["path"].startswith("/v1/") else _UNVERSIONED
        try:
            status, body, headers = 200, *await self._read(scope, script_id)
        except ScriptflowError as exc:
            status = exc.status_code
            body = _json(error_body(exc.code, exc.message, exc.details))
            headers = [(b"www-authenticate", b"Bearer")] if status == 401 else []
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_JSON, (b"content-length", str(len(body)).encode()), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _read(self, scope: Scope, script_id: uuid.UUID) -> tuple[bytes, list[Any]]:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        verifier: AccessTokenVerifier = self.state.token_verifier
        claims = verifier.verify(bearer_token(authorization))
        try:
            script = await read_script(
                self.state.engine,
                uuid.UUID(claims["sub"]),
                claims["ver"],
                script_id,
                self.state.read_pool,
            )
        except NotFound:
            # The one statement also misses for a revoked token; that caller hears 401.
            async with transaction(self.state.sessionmaker, write=False) as session:
                await user_for_claims(session, claims)
            raise
        out = ScriptOut.model_construct(
            id=script.id,
            project_id=script.project_id,
            title=script.title,
            path=script.path,
            kind=FileKind(script.kind),
            content=script.content,
            version=script.version,
            created_at=script.created_at,
            updated_at=script.updated_at,
        )
        return out.__pydantic_serializer__.to_json(out), [(b"etag", f'"{script.version}"'.encode())]


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
