"""The mirror library against a real S3 API (moto in server mode on loopback) with the demo model as the snapshot.

moto stands in for AWS S3 only because AWS cannot be reached here; everything else is real (boto3's transfer
manager, the hashing, the manifest).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from inferctl.cache.mirror import (
    MANIFEST_NAME,
    cache_prefix,
    cache_uri,
    drop_snapshot,
    mirror_directory,
    object_sizes,
    read_manifest,
)
from tests.support.s3 import LoopbackS3, demo_snapshot, loopback_s3, needs_moto

__all__ = ["loopback_s3"]  # the fixture, imported for pytest

pytestmark = needs_moto
MODEL_ID = "inferctl/demo"
REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return demo_snapshot(tmp_path)


def test_layout_and_manifest(loopback_s3: LoopbackS3, snapshot: Path) -> None:
    s3 = loopback_s3.client()
    lines: list[tuple[str, int, int]] = []
    result = mirror_directory(
        s3,
        snapshot,
        bucket=loopback_s3.bucket,
        model_id=MODEL_ID,
        revision=REVISION,
        progress=lambda message, done, total: lines.append((message, done, total)),
    )
    prefix = f"models/{MODEL_ID}/{REVISION}/"
    assert cache_prefix(MODEL_ID, REVISION) == prefix
    assert cache_uri("b", MODEL_ID, REVISION) == f"s3://b/{prefix}"
    local = {p.relative_to(snapshot).as_posix(): p for p in snapshot.rglob("*") if p.is_file()}
    assert "model.safetensors" in local and "config.json" in local
    sizes = object_sizes(s3, loopback_s3.bucket, prefix)
    assert set(sizes) == {*local, MANIFEST_NAME}
    assert all(sizes[name] == path.stat().st_size for name, path in local.items())
    manifest = read_manifest(s3, loopback_s3.bucket, prefix)
    assert manifest is not None
    assert (manifest["model"], manifest["revision"]) == (MODEL_ID, REVISION)
    by_path = {f["path"]: f for f in manifest["files"]}
    assert set(by_path) == set(local)
    for name, path in local.items():
        assert by_path[name]["size"] == path.stat().st_size
        assert by_path[name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    weights = s3.get_object(Bucket=loopback_s3.bucket, Key=prefix + "model.safetensors")["Body"].read()
    assert weights == (snapshot / "model.safetensors").read_bytes()
    assert manifest["total_bytes"] == result.total_bytes == result.uploaded_bytes
    assert sorted(result.uploaded) == sorted(local) and result.skipped == []
    assert len(lines) == len(local) and lines[-1][1] == lines[-1][2] == result.total_bytes


def test_second_run_uploads_nothing(loopback_s3: LoopbackS3, snapshot: Path) -> None:
    s3 = loopback_s3.client()
    mirror_directory(s3, snapshot, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    before = s3.head_object(Bucket=loopback_s3.bucket, Key=cache_prefix(MODEL_ID, REVISION) + MANIFEST_NAME)
    again = mirror_directory(s3, snapshot, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    assert again.uploaded == [] and again.uploaded_bytes == 0
    assert len(again.skipped) == len(list(snapshot.glob("*")))
    after = s3.head_object(Bucket=loopback_s3.bucket, Key=cache_prefix(MODEL_ID, REVISION) + MANIFEST_NAME)
    assert after["ETag"] == before["ETag"]


def test_changed_or_missing_files_upload_again(loopback_s3: LoopbackS3, snapshot: Path) -> None:
    s3 = loopback_s3.client()
    prefix = cache_prefix(MODEL_ID, REVISION)
    mirror_directory(s3, snapshot, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    s3.delete_object(Bucket=loopback_s3.bucket, Key=prefix + "config.json")  # lost behind the manifest's back
    tokenizer = snapshot / "tokenizer_config.json"
    tokenizer.write_text(json.dumps({**json.loads(tokenizer.read_text()), "model_max_length": 99}))
    result = mirror_directory(s3, snapshot, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    assert sorted(result.uploaded) == ["config.json", "tokenizer_config.json"]
    manifest = read_manifest(s3, loopback_s3.bucket, prefix)
    assert manifest is not None
    entry = next(f for f in manifest["files"] if f["path"] == "tokenizer_config.json")
    assert entry["sha256"] == hashlib.sha256(tokenizer.read_bytes()).hexdigest()


def test_drop_removes_the_snapshot_only(loopback_s3: LoopbackS3, snapshot: Path) -> None:
    s3 = loopback_s3.client()
    mirror_directory(s3, snapshot, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    mirror_directory(s3, snapshot, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision="other")
    removed = drop_snapshot(s3, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    assert removed == len(list(snapshot.glob("*"))) + 1
    assert object_sizes(s3, loopback_s3.bucket, cache_prefix(MODEL_ID, REVISION)) == {}
    assert read_manifest(s3, loopback_s3.bucket, cache_prefix(MODEL_ID, "other")) is not None


@pytest.mark.parametrize(("model_id", "revision"), [("", "main"), ("org/m", ""), ("../x", "main"), ("org/m", "a/b")])
def test_cache_key_refuses_unsafe_parts(model_id: str, revision: str) -> None:
    with pytest.raises(ValueError):
        cache_prefix(model_id, revision)


def test_the_job_runs_the_module_as_a_plain_script(loopback_s3: LoopbackS3, snapshot: Path, tmp_path: Path) -> None:
    """The Job runs this file alone (from a ConfigMap, no inferctl installed): it must import nothing of inferctl,
    and with the manifest in place it exits 0 without touching the hub."""
    import os
    import subprocess
    import sys

    import inferctl.cache.mirror as module

    script = tmp_path / "mirror.py"
    source = Path(module.__file__).read_text(encoding="utf-8")
    assert "from inferctl" not in source and "import inferctl" not in source
    script.write_text(source)
    mirror_directory(loopback_s3.client(), snapshot, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {**loopback_s3.env(), "CACHE_BUCKET": loopback_s3.bucket, "MODEL_ID": MODEL_ID, "MODEL_REVISION": REVISION,
            "HF_HUB_OFFLINE": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, "-I", str(script)], env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "already mirrored; nothing to do" in done.stdout


def test_a_missing_manifest_is_found_by_listing_not_by_a_denied_read() -> None:
    """The cache roles may list ``models/*`` only (aws/model_cache.py), and S3 answers their GetObject of a missing
    key with AccessDenied, not NoSuchKey. The botocore Stubber stands in for that S3 (no IAM here): the manifest's
    absence must come from the listing, never from the read."""
    import boto3
    from botocore.stub import Stubber

    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    prefix = cache_prefix(MODEL_ID, REVISION)
    with Stubber(s3) as stub:
        stub.add_response(
            "list_objects_v2", {"KeyCount": 0}, {"Bucket": "b", "Prefix": prefix + MANIFEST_NAME, "MaxKeys": 1}
        )
        stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
        assert read_manifest(s3, "b", prefix) is None
