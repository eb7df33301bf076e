"""Settings as a user gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriptflow.config import Settings, normalise_database_url, sync_database_url


def test_a_relative_data_dir_is_made_absolute_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path("data"))
    assert settings.data_dir == tmp_path / "data"
    monkeypatch.chdir("/")
    # The embedded database stays where it was configured, whatever the working directory.
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/data/scriptflow.db"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_pick_the_async_driver(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected
    assert sync_database_url(given).split("://")[0] in ("postgresql+psycopg", "sqlite")
