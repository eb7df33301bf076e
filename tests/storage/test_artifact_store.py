"""The artifact store: a directory that serves only its own regular files, and a real S3 server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from scriptflow.config import Settings
from scriptflow.storage.artifact_store import (
    ArtifactMissing,
    LocalArtifactStore,
    S3ArtifactStore,
    artifact_key,
)
from tests.support.ci import need
from tests.support.postgres import free_port

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
