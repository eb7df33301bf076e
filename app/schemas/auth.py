from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from app.schemas import Email, RequestModel, ResponseModel
from scriptflow.auth.service import MIN_PASSWORD_LENGTH


class Credentials(RequestModel):
    # Any string: an address that cannot exist simply does not log in (401, like a wrong one).
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class Registration(RequestModel):
    email: Email
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class UserOut(ResponseModel):
    id: uuid.UUID
    email: str


class TokenOut(ResponseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(ge=1, description="access token lifetime in seconds")
    refresh_token: str


class RefreshIn(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutIn(RequestModel):
    refresh_token: str | None = Field(default=None, max_length=512)
