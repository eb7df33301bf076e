"""An OpenAI-compatible chat-completions server on loopback, for tests of the openai provider.

The SDK talks real HTTP to it (openai 3 uses httpx2, so transport mocks would not intercept).
Tests set what it answers: a structured reply, raw content, or an HTTP error status.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class StubBehaviour:
    reply: dict[str, Any] | None = None
    raw_content: str | None = None
    status: int = 200
    delay_s: float = 0.0
    # While set, each answer waits until the test opens the gate (a model that takes as long
    # as the test needs, with no clock in the assertion).
    gate: threading.Event | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)


class OpenAIStub:
    """A running stub; `base_url` goes into OPENAI_BASE_URL."""

    def __init__(self) -> None:
        self.behaviour = StubBehaviour()
        behaviour = self.behaviour

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                behaviour.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if behaviour.delay_s:
                    time.sleep(behaviour.delay_s)  # a slow model, on the stub's own thread
                if behaviour.gate is not None:
                    behaviour.gate.wait(timeout=60)
                if behaviour.status != 200:
                    self._send(behaviour.status, {"error": {"message": "stub failure"}})
                    return
                content = behaviour.raw_content
                if content is None:
                    content = json.dumps(behaviour.reply or {"improved_script": "", "changes": []})
                self._send(
                    200,
                    {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "stub"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {
                                    "role": "assistant",
                                    "content": content,
                                    "refusal": None,
                                },
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, improved_script: str, changes: list[dict[str, Any]] | None = None) -> None:
        """Answer the next requests with this structured reply."""
        self.behaviour.reply = {"improved_script": improved_script, "changes": changes or []}
        self.behaviour.raw_content = None
        self.behaviour.status = 200
        self.behaviour.delay_s = 0.0
        self.behaviour.gate = None

    def answer_raw(self, content: str) -> None:
        self.behaviour.raw_content = content
        self.behaviour.status = 200

    def fail_with(self, status: int) -> None:
        self.behaviour.status = status
