"""Domain errors, one hierarchy with stable codes.

    ScriptflowError                 (500 INTERNAL_ERROR)
    ├── ValidationFailed            (422 VALIDATION_ERROR)
    │   ├── ScriptSyntaxError       (422 SCRIPT_SYNTAX_ERROR)
    │   └── BrowserNotAvailable     (422 BROWSER_NOT_AVAILABLE)
    ├── BadRequest                  (400 BAD_REQUEST)
    ├── PayloadTooLarge             (413 PAYLOAD_TOO_LARGE)
    ├── Unauthorized                (401 UNAUTHORIZED)
    ├── Forbidden                   (403 FORBIDDEN)
    │   └── GuardrailViolation      (403 GUARDRAIL)
    ├── NotFound                    (404 <THING>_NOT_FOUND / NOT_FOUND)
    ├── Conflict                    (409 CONFLICT)
    │   ├── InvalidChangesetState   (409 INVALID_CHANGESET_STATE)
    │   ├── StaleChangeset          (409 STALE_CHANGESET)
    │   └── InvalidRunState         (409 INVALID_RUN_STATE)
    ├── RateLimited                 (429 RATE_LIMITED)
    ├── AIOutputInvalid             (502 AI_OUTPUT_INVALID)
    └── AIProviderUnavailable       (503 AI_PROVIDER_UNAVAILABLE)

`scriptflow` raises these; `app/errors.py` maps them to HTTP in one place and notebooks show
`message`. `details` must never carry secrets or internals.
"""

from __future__ import annotations

from typing import Any


class ScriptflowError(Exception):
    """Base of every error scriptflow raises on purpose."""

    status_code = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code


class ValidationFailed(ScriptflowError):
    status_code = 422
    code = "VALIDATION_ERROR"

    @classmethod
    def for_field(
        cls, field: str, problem: str, *, message: str | None = None, **details: Any
    ) -> ValidationFailed:
        """A 422 whose `details.fields` names the field and what is wrong with it."""
        return cls(
            message or f"{field}: {problem}",
            details={"fields": [{"field": field, "message": problem}], **details},
        )


class ScriptSyntaxError(ValidationFailed):
    code = "SCRIPT_SYNTAX_ERROR"


class BrowserNotAvailable(ValidationFailed):
    code = "BROWSER_NOT_AVAILABLE"


class BadRequest(ScriptflowError):
    status_code = 400
    code = "BAD_REQUEST"


class PayloadTooLarge(ScriptflowError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class Unauthorized(ScriptflowError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(ScriptflowError):
    status_code = 403
    code = "FORBIDDEN"


class GuardrailViolation(Forbidden):
    code = "GUARDRAIL"


class NotFound(ScriptflowError):
    status_code = 404
    code = "NOT_FOUND"

    def __init__(self, thing: str, ident: object | None = None) -> None:
        code = f"{thing.upper().replace(' ', '_').replace('-', '_')}_NOT_FOUND"
        details = {"id": str(ident)} if ident is not None else {}
        super().__init__(f"{thing.capitalize()} not found", details=details, code=code)


class Conflict(ScriptflowError):
    status_code = 409
    code = "CONFLICT"


class InvalidChangesetState(Conflict):
    code = "INVALID_CHANGESET_STATE"


class StaleChangeset(Conflict):
    code = "STALE_CHANGESET"


class InvalidRunState(Conflict):
    code = "INVALID_RUN_STATE"


class RateLimited(ScriptflowError):
    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, details={"retry_after_s": round(retry_after, 1)})
        self.retry_after = retry_after


class AIOutputInvalid(ScriptflowError):
    status_code = 502
    code = "AI_OUTPUT_INVALID"


class AIProviderUnavailable(ScriptflowError):
    status_code = 503
    code = "AI_PROVIDER_UNAVAILABLE"
