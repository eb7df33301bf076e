"""Where run artifacts live once a worker collected them: a directory or an S3 bucket.

A worker collects a run's artifacts (``scriptflow.runs.artifacts``: copied as untrusted files
into ``<its data dir>/artifacts/<run id>/``), then publishes them to the deployment's store under
the key ``<run id>/<name>``; any API process serves them from there. The local store is the
default (``<data dir>/artifacts``, or any shared directory): publishing into the folder the
worker collected into is a no-op. The S3 store speaks to any S3-compatible server through
obstore (Rust's object_store: async, so no thread per transfer, and one small wheel instead of
boto3 and botocore; docs/deploy-measured.md has the measurements).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from scriptflow.config import Settings

CHUNK_BYTES = 1024 * 1024


class ArtifactMissing(LookupError):
    """The store has no object under this key."""


class ArtifactStore(Protocol):
    """Put, stream and (where the store can) presign run artifacts by key."""

    async def put_file(self, key: str, source: Path, content_type: str) -> None: ...

    def chunks(self, key: str) -> AsyncIterator[bytes]: ...

    async def size(self, key: str) -> int: ...

    async def presigned_url(self, key: str, expires_in: timedelta) -> str | None: ...

    async def fetch_to(self, key: str, target: Path) -> None: ...


def artifact_key(run_id: object, name: str) -> str:
    """The key of one artifact: ``<run id>/<name>`` (names are checked plain file names)."""
    return f"{run_id}/{name}"


class LocalArtifactStore:
    """A directory, local or a shared mount; the default ``<data dir>/artifacts``."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def path_of(self, key: str) -> Path:
        """The regular file under the root for ``key`` (no links, nothing outside the root)."""
        path = self.root / key
        try:
            info = path.lstat()
        except OSError:
            raise ArtifactMissing(key) from None
        if not stat.S_ISREG(info.st_mode) or not path.resolve().is_relative_to(self.root):
            raise ArtifactMissing(key)
        return path

    async def put_file(self, key: str, source: Path, content_type: str) -> None:
        await asyncio.to_thread(_copy_atomically, source, self.root / key)

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        path = await asyncio.to_thread(self.path_of, key)
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()

    async def size(self, key: str) -> int:
        path = await asyncio.to_thread(self.path_of, key)
        return (await asyncio.to_thread(path.stat)).st_size

    async def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        return None

    async def fetch_to(self, key: str, target: Path) -> None:
        source = await asyncio.to_thread(self.path_of, key)
        await asyncio.to_thread(_copy_atomically, source, target)


def _copy_atomically(source: Path, target: Path) -> None:
    if os.path.abspath(source) == os.path.abspath(target):
        return  # collected straight into this store
    # Readers in other processes see the whole file or none of it.
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


class S3ArtifactStore:
    """An S3-compatible bucket under a prefix (``s3://bucket/prefix``)."""

    def __init__(self, url: str, settings: Settings) -> None:
        from obstore.store import S3Store

        parsed = urlparse(url)
        config: dict[str, str] = {"region": settings.s3_region}
        if settings.s3_endpoint_url:
            config["endpoint"] = settings.s3_endpoint_url
        if settings.s3_access_key_id:
            config["access_key_id"] = settings.s3_access_key_id
        if settings.s3_secret_access_key:
            config["secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/") or None
        self._store = S3Store(
            self.bucket,
            prefix=self.prefix,
            config=config,  # type: ignore[arg-type]
            client_options={
                "allow_http": bool(
                    settings.s3_endpoint_url and settings.s3_endpoint_url.startswith("http://")
                )
            },
        )

    async def put_file(self, key: str, source: Path, content_type: str) -> None:
        import obstore

        await obstore.put_async(self._store, key, source, attributes={"Content-Type": content_type})

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            result = await obstore.get_async(self._store, key)
        except (NotFoundError, FileNotFoundError):
            raise ArtifactMissing(key) from None
        async for chunk in result.stream(min_chunk_size=CHUNK_BYTES):
            yield bytes(chunk)

    async def size(self, key: str) -> int:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return int((await obstore.head_async(self._store, key))["size"])
        except (NotFoundError, FileNotFoundError):
            raise ArtifactMissing(key) from None

    async def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        import obstore

        return await obstore.sign_async(self._store, "GET", key, expires_in)

    async def fetch_to(self, key: str, target: Path) -> None:
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        await asyncio.to_thread(partial.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(partial.open, "wb")
        try:
            async for chunk in self.chunks(key):
                await asyncio.to_thread(handle.write, chunk)
        finally:
            handle.close()
        await asyncio.to_thread(os.replace, partial, target)


_stores: dict[tuple[str, str | None, str | None], ArtifactStore] = {}


def artifact_store_for(settings: Settings) -> ArtifactStore:
    """The deployment's artifact store (``SCRIPTFLOW_ARTIFACTS_URL``), one per process."""
    url = settings.resolved_artifacts_url
    key = (url, settings.s3_endpoint_url, settings.s3_access_key_id)
    if key not in _stores:
        if url.startswith("s3://"):
            _stores[key] = S3ArtifactStore(url, settings)
        else:
            _stores[key] = LocalArtifactStore(Path(url.removeprefix("file://")))
    return _stores[key]


class CollectedArtifact(Protocol):
    """A file the worker's safe collection copied out of a run."""

    @property
    def name(self) -> str: ...

    @property
    def content_type(self) -> str: ...

    @property
    def path(self) -> Path: ...


async def publish_run_artifacts(
    settings: Settings, run_id: uuid.UUID, artifacts: Iterable[CollectedArtifact]
) -> None:
    """Put a run's collected artifacts into the deployment's store before the run is finished.

    Called after the safe collection copied them out of the run's folder; a store elsewhere
    (S3, another directory) gets a copy and this worker's staging copy goes.
    """
    store = artifact_store_for(settings)
    staged = list(artifacts)
    for artifact in staged:
        key = artifact_key(run_id, artifact.name)
        await store.put_file(key, artifact.path, artifact.content_type)
    local_here = isinstance(store, LocalArtifactStore) and all(
        artifact.path.parent == store.root / str(run_id) for artifact in staged
    )
    if staged and not local_here:
        await asyncio.to_thread(shutil.rmtree, staged[0].path.parent, True)
