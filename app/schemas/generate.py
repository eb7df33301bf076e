from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.schemas import RequestModel, ResponseModel

# A path on the environment: "/" then no second "/" (that would name another host), no spaces.
PAGE_PATH_PATTERN = r"^/([^/\s\x00-\x1f\\][^\s\x00-\x1f\\]*)?$"


class GenerateIn(RequestModel):
    environment: str = Field(min_length=1, max_length=100, description="An environment's name.")
    path: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        pattern=PAGE_PATH_PATTERN,
        description="The page on the environment, a relative URL such as /signup (with a "
        "recording: where it starts, by default its first page).",
    )
    recording: str | None = Field(
        default=None,
        max_length=1024 * 1024,
        description="A pasted `playwright codegen` recording to convert into a test.",
    )
    description: str | None = Field(
        default=None,
        max_length=4000,
        description="What the test does (required with the openai provider).",
    )
    provider: Literal["rules", "openai"] = "rules"
    model: str | None = Field(default=None, max_length=100)
    target_path: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^(?:[\w.-]+/)*test_[\w.-]*\.py$",
        description="Where the accepted file goes (default tests/test_generated_<page>.py).",
    )
    verify_runs: int = Field(default=3, ge=1, le=5, description="Runs that must all pass.")


class OutlineOut(ResponseModel):
    environment: str
    path: str
    url: str
    title: str
    outline: str = Field(description="The page's accessibility tree as a Playwright aria snapshot")
