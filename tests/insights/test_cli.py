"""`scriptflow analytics rebuild` as a real subprocess, from SQLite and from PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.config import Settings
from scriptflow.insights.warehouse import Warehouse
from tests.factories import create_script, signup
from tests.insights.history import login_steps
from tests.insights.recording import record_run


async def test_rebuild_recreates_the_warehouse_from_the_database(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    account = await signup(client)
    script = await create_script(client, account)
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(3):
        await record_run(
            sessionmaker,
            project_id=account.project_id,
            script_id=str(script["id"]),
            steps=login_steps(button_fails=i == 1),
            outcome="failed" if i == 1 else "passed",
            created_at=start + timedelta(minutes=i),
        )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SCRIPTFLOW_", "DATABASE_URL"))
    }
    env |= {
        "DATABASE_URL": settings.resolved_database_url,
        "SCRIPTFLOW_DATA_DIR": str(settings.data_dir),
        "JWT_SECRET": "x" * 48,
    }
    done = subprocess.run(
        [sys.executable, "-m", "scriptflow.cli", "analytics", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "warehouse rebuilt: 3 runs, 3 tests, 14 steps" in done.stdout

    warehouse = Warehouse.for_settings(settings)
    try:
        with warehouse.reader([uuid.UUID(account.project_id)]) as reader:
            rows = reader.rows("SELECT status, count(*) FROM runs GROUP BY status ORDER BY status")
            [signature] = reader.rows("SELECT signature FROM tests WHERE outcome = 'failed'")
    finally:
        warehouse.close()
    assert rows == [("failed", 1), ("passed", 2)]
    assert signature[0].startswith("click #login | TimeoutError")
