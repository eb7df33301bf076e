"""Browsers a run may ask for on this server."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from app.deps import CurrentUser, SettingsDep
from app.schemas.test_runs import BrowserOut
from scriptflow.runs.browsers import available_browsers

router = APIRouter(prefix="/browsers", tags=["test-runs"])


@router.get("", response_model=list[BrowserOut])
async def list_browsers(_user: CurrentUser, settings: SettingsDep) -> list[BrowserOut]:
    browsers = await asyncio.to_thread(available_browsers, settings)
    return [BrowserOut.model_validate(b.as_public_dict()) for b in browsers]
