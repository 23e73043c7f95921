"""A real S3 API on loopback for the model-cache tests: moto's server mode, started and stopped by the tests.

moto (PyPI) implements S3's HTTP API; boto3 and the Run:ai streamer talk to it over TCP exactly as to AWS, so the
mirror's requests (multipart uploads, listings, deletes) and the streamer's ranged GETs all go through the wire.
Credentials are dummies: moto accepts any.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BUCKET = "inferctl-model-cache-test"
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

needs_moto = pytest.mark.skipif(
    importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None,
    reason="needs moto[server] (the dev extra) for a loopback S3 API",
)


@dataclass(frozen=True)
class LoopbackS3:
    endpoint: str
    bucket: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def env(self) -> dict[str, str]:
        """What a child process (vLLM, the streamer) needs to reach this S3 instead of AWS's."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "RUNAI_STREAMER_S3_ENDPOINT": self.endpoint,
            # moto serves buckets under the path, not as <bucket>.<host> names.
            "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
        }


@pytest.fixture
def loopback_s3() -> Iterator[LoopbackS3]:
    """A fresh moto S3 server on 127.0.0.1 (a free port) with one empty bucket; stopped after the test.

    moto keeps its state per process, not per server: the fixture resets it through moto's own API so no test
    sees another's objects."""
    import httpx
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = LoopbackS3(endpoint=f"http://{host}:{port}", bucket=BUCKET)
        httpx.post(f"{s3.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        s3.client().create_bucket(Bucket=BUCKET)
        yield s3
    finally:
        server.stop()


def demo_snapshot(tmp_path: Path) -> Path:
    """The demo model as a snapshot directory to mirror, under ``tmp_path/snapshot``."""
    import shutil

    from inferctl.demo_model import ensure_demo_model
    from inferctl.home import Home

    root = tmp_path / "snapshot"
    shutil.copytree(ensure_demo_model(Home(tmp_path / "home")), root)
    (root / "COMPLETE").unlink(missing_ok=True)  # the demo builder's own marker, not part of a model
    return root
