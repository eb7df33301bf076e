"""obstore against boto3 on one S3-protocol server (moto on loopback): the artifact store's pick.

Measures what a worker and an API do with artifacts: upload N files of a size, stream them back,
presign. Prints a table. Run: `.venv/bin/python benchmarks/artifact_stores.py`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

BUCKET = "bench"
SIZES = {"10 KB console log": 10 * 1024, "2 MB trace": 2 * 1024 * 1024}
FILES = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median_ms(action: Callable[[int], object]) -> float:
    """The median time of ``action(i)`` for i in 0..FILES-1, in milliseconds."""
    laps = []
    for i in range(FILES):
        started = time.perf_counter()
        action(i)
        laps.append((time.perf_counter() - started) * 1000)
    return statistics.median(laps)


def transfers(
    client: Any, store: Any, label: str, size: int, source: Path
) -> list[tuple[str, float, float]]:
    """Upload then download FILES copies of ``source`` through each client."""
    import obstore

    def boto_get(i: int) -> bytes:
        return bytes(client.get_object(Bucket=BUCKET, Key=f"b/{size}/{i}")["Body"].read())

    return [
        (
            f"upload {label} (median ms)",
            median_ms(lambda i: client.upload_file(str(source), BUCKET, f"b/{size}/{i}")),
            median_ms(lambda i: obstore.put(store, f"o/{size}/{i}", source)),
        ),
        (
            f"download {label} (median ms)",
            median_ms(boto_get),
            median_ms(lambda i: obstore.get(store, f"o/{size}/{i}").bytes()),
        ),
    ]


def main() -> None:
    import boto3
    import obstore
    from moto.server import ThreadedMotoServer
    from obstore.store import S3Store

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    creds = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    started = time.perf_counter()
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **creds)
    boto_setup = (time.perf_counter() - started) * 1000
    client.create_bucket(Bucket=BUCKET)
    started = time.perf_counter()
    store = S3Store(
        BUCKET,
        config={
            "endpoint": endpoint,
            "access_key_id": "bench",
            "secret_access_key": "bench",
            "region": "us-east-1",
        },
        client_options={"allow_http": True},
    )
    obstore_setup = (time.perf_counter() - started) * 1000
    rows = [("client set-up", boto_setup, obstore_setup)]
    folder = Path(tempfile.mkdtemp())
    try:
        for label, size in SIZES.items():
            source = folder / f"{size}.bin"
            source.write_bytes(os.urandom(size))
            rows += transfers(client, store, label, size, source)

        async def many_async_downloads() -> None:
            await asyncio.gather(
                *(obstore.get_async(store, f"o/{10 * 1024}/{i}") for i in range(FILES))
            )

        started = time.perf_counter()
        asyncio.run(many_async_downloads())
        ob_parallel = (time.perf_counter() - started) * 1000
        rows.append((f"{FILES} concurrent gets on one loop (ms)", float("nan"), ob_parallel))
        boto_sign = median_ms(
            lambda i: client.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": f"b/x/{i}"}, ExpiresIn=60
            )
        )
        ob_sign = median_ms(lambda i: obstore.sign(store, "GET", f"o/x/{i}", timedelta(seconds=60)))
        rows.append(("presign (median ms)", boto_sign, ob_sign))
    finally:
        server.stop()
    print(f"{'operation':<44} {'boto3':>10} {'obstore':>10}")
    for name, boto_ms, ob_ms in rows:
        print(f"{name:<44} {boto_ms:>10.2f} {ob_ms:>10.2f}")
    print(f"python {sys.version.split()[0]}, {FILES} files per row")


if __name__ == "__main__":
    main()
