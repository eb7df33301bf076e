"""The artifact store: a directory that serves only its own regular files, and a real S3 server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.main import create_app
from app.web import mount_web
from app.web.trace_viewer import artifact_url
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import NotFound
from scriptflow.runs.downloads import artifact_bytes
from scriptflow.runs.models import RunArtifact, TestRun
from scriptflow.storage.artifact_store import (
    ArtifactMissing,
    LocalArtifactStore,
    S3ArtifactStore,
    artifact_key,
)
from tests.factories import Account, create_script, signup
from tests.support.ci import need
from tests.support.postgres import free_port
from tests.support.settings import settings_for

BUCKET = "artifacts-test"


async def _read(store: object, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.chunks(key)])  # type: ignore[attr-defined]


async def test_a_local_store_publishes_atomically_and_serves_only_its_regular_files(
    tmp_path: Path,
) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    staged = tmp_path / "staging" / "trace.zip"
    staged.parent.mkdir()
    staged.write_bytes(b"PK" + os.urandom(3000))
    key = artifact_key("run-1", "trace.zip")
    await store.put_file(key, staged, "application/zip")
    assert await _read(store, key) == staged.read_bytes()
    assert await store.size(key) == 3002
    assert await store.presigned_url(key, timedelta(seconds=60)) is None
    assert not list((tmp_path / "store" / "run-1").glob(".*partial*"))
    # Publishing the file the worker collected into the store itself is a no-op, not a loss.
    await store.put_file(key, tmp_path / "store" / key, "application/zip")
    assert await store.size(key) == 3002

    secret = tmp_path / "secret.txt"
    secret.write_text("not an artifact")
    (tmp_path / "store" / "run-1" / "link.log").symlink_to(secret)
    for hostile in ("run-1/link.log", "../secret.txt", "run-1/missing.png"):
        with pytest.raises(ArtifactMissing):
            await store.size(hostile)
        with pytest.raises(ArtifactMissing):
            await _read(store, hostile)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        need(f"moto[server] is not installed: {exc}")
        raise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    ).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


async def test_an_s3_store_round_trips_streams_and_presigns(
    s3_endpoint: str, tmp_path: Path
) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "AWS_ENDPOINT_URL": s3_endpoint,
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
        }
    )
    store = S3ArtifactStore(f"s3://{BUCKET}/prefix", settings)
    source = tmp_path / "trace.zip"
    payload = os.urandom(3 * 1024 * 1024 + 17)  # more than one streamed chunk
    source.write_bytes(payload)
    key = artifact_key("run-2", "trace.zip")
    await store.put_file(key, source, "application/zip")
    assert await store.size(key) == len(payload)
    assert await _read(store, key) == payload
    copy = tmp_path / "cache" / "trace.zip"
    await store.fetch_to(key, copy)
    assert copy.read_bytes() == payload
    url = await store.presigned_url(key, timedelta(seconds=60))
    assert url is not None and url.startswith(s3_endpoint)
    async with httpx.AsyncClient() as client:
        signed = await client.get(url)
        assert signed.status_code == 200 and signed.content == payload
        # Unsigned, the object is not public.
        assert (await client.get(url.split("?", 1)[0])).status_code == 403
    with pytest.raises(ArtifactMissing):
        await store.size("run-2/nothing.png")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_trace_viewer_and_the_run_notebook_read_artifacts_from_an_s3_store(
    s3_endpoint: str, db_url: str, tmp_path: Path
) -> None:
    """An S3 deployment: the web artifact route (what the trace viewer fetches) and the run
    notebook's screenshot read the bucket, not this process's data dir, and only for members."""
    settings = settings_for(
        db_url,
        tmp_path,
        artifacts_url=f"s3://{BUCKET}/web",
        AWS_ENDPOINT_URL=s3_endpoint,
        AWS_ACCESS_KEY_ID="k",
        AWS_SECRET_ACCESS_KEY="s",
        artifacts_presign_s=300,  # the web route streams all the same (same origin)
    )
    application = create_app(settings, run_background=False)
    mount_web(application, settings)
    trace = b"PK" + os.urandom(2 * 1024 * 1024)
    shot = b"\x89PNG" + os.urandom(5000)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            owner, stranger = await signup(web), await signup(web)
            script = await create_script(web, owner)
            run_id = await _finished_run_with_artifacts(
                application.state.sessionmaker, owner, str(script["id"])
            )
            store = S3ArtifactStore(settings.resolved_artifacts_url, settings)
            for name, data in (("trace.zip", trace), ("failure.png", shot)):
                source = tmp_path / name
                source.write_bytes(data)
                await store.put_file(artifact_key(run_id, name), source, "application/zip")
            assert not (settings.data_dir / "artifacts").exists()  # nothing local to fall back on

            await _sign_in(web, owner)
            r = await web.get(artifact_url(run_id, "trace.zip"))
            assert r.status_code == 200 and r.content == trace
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["content-disposition"].startswith("attachment")
            await _sign_in(web, stranger)
            assert (await web.get(artifact_url(run_id, "trace.zip"))).status_code == 404

            async with transaction(application.state.sessionmaker, write=False) as session:
                got = await artifact_bytes(
                    session, uuid.UUID(owner.user_id), run_id, "failure.png", settings,
                    max_bytes=10_000,
                )  # fmt: skip
                assert got == shot
                with pytest.raises(NotFound):  # larger than a page may hold in memory
                    await artifact_bytes(
                        session, uuid.UUID(owner.user_id), run_id, "trace.zip", settings,
                        max_bytes=10_000,
                    )  # fmt: skip
                with pytest.raises(NotFound):
                    await artifact_bytes(
                        session, uuid.UUID(stranger.user_id), run_id, "failure.png", settings,
                        max_bytes=10_000,
                    )  # fmt: skip


async def _sign_in(web: httpx.AsyncClient, account: Account) -> None:
    web.cookies.clear()
    r = await web.post("/login", data={"email": account.email, "password": account.password})
    assert r.status_code == 303, r.text


async def _finished_run_with_artifacts(
    sessionmaker: async_sessionmaker[AsyncSession], account: Account, script_id: str
) -> uuid.UUID:
    now = datetime.now(UTC)
    async with transaction(sessionmaker) as session:
        run = TestRun(
            project_id=uuid.UUID(account.project_id),
            script_id=uuid.UUID(script_id),
            script_version=1,
            environment="staging",
            base_url="http://127.0.0.1:9",
            browser="chromium",
            status="failed",
            created_at=now,
            started_at=now,
            completed_at=now,
            attempt=1,
        )
        session.add(run)
        await session.flush()
        for name, kind in (("trace.zip", "trace"), ("failure.png", "screenshot")):
            session.add(
                RunArtifact(
                    run_id=run.id,
                    name=name,
                    kind=kind,
                    content_type="application/zip" if kind == "trace" else "image/png",
                    size_bytes=0,
                    path=f"artifacts/{run.id}/{name}",
                )
            )
        return run.id
