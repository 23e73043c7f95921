"""``inferctl cache status|drop`` (and ``warm --here`` when already mirrored) against moto's S3 server on loopback:
the CLI as a user runs it (in-process), boto3 reaching the loopback endpoint through ``AWS_ENDPOINT_URL`` as it
would reach AWS. moto stands in for S3 only because AWS cannot be reached here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from inferctl.cache.mirror import mirror_directory
from inferctl.cli.app import main
from inferctl.demo_model import ensure_demo_model
from inferctl.home import Home
from tests.support.s3 import FAKE_CREDENTIALS, REGION, LoopbackS3, loopback_s3, needs_moto

__all__ = ["loopback_s3"]

pytestmark = needs_moto
SOURCE = "meta-llama/Meta-Llama-3-8B-Instruct"
REVISION = "5f0b02c75b57c5855da9ae460ce51323ea669d8a"


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback_s3: LoopbackS3) -> Path:
    monkeypatch.setenv("AWS_ENDPOINT_URL", loopback_s3.endpoint)
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "inferctl.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "genai",
                "target": "kubernetes",
                "models": [{"name": "llama", "source": SOURCE, "revision": REVISION}],
                "cache": {"enabled": True, "bucket": loopback_s3.bucket, "region": REGION},
            }
        )
    )
    return path


def _status(path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["cache", "status", "-c", str(path), "--output", "json"]) == 0
    report: dict = json.loads(capsys.readouterr().out)
    return report["models"][0]


def test_status_warm_and_drop(
    platform: Path, loopback_s3: LoopbackS3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _status(platform, capsys)
    assert empty["state"] == "empty" and empty["uri"] == f"s3://{loopback_s3.bucket}/models/{SOURCE}/{REVISION}/"
    snapshot = tmp_path / "snapshot"
    shutil.copytree(ensure_demo_model(Home(tmp_path / "demo")), snapshot)
    mirror_directory(loopback_s3.client(), snapshot, bucket=loopback_s3.bucket, model_id=SOURCE, revision=REVISION)
    full = _status(platform, capsys)
    files = len(list(snapshot.iterdir()))
    assert (full["state"], full["files"]) == ("mirrored", files)
    # Already mirrored: warm --here downloads nothing (there is no hub here to download from).
    assert main(["cache", "warm", "--here", "-c", str(platform), "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"][0]["uploaded"] == 0
    assert main(["cache", "drop", "-c", str(platform), "--yes", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["dropped"][0]["objects"] == files + 1
    assert _status(platform, capsys)["state"] == "empty"


def test_cache_off_is_a_one_line_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inferctl.yaml"
    path.write_text(yaml.safe_dump({"target": "kubernetes", "models": [{"name": "m", "source": SOURCE}]}))
    assert main(["cache", "status", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no model uses the S3 cache" in err and "Traceback" not in err


def test_missing_bucket_is_one_line(platform: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = platform.read_text().replace("inferctl-model-cache-test", "no-such-bucket-here")
    platform.write_text(text)
    assert main(["cache", "status", "-c", str(platform)]) == 1
    assert "bucket no-such-bucket-here does not exist" in capsys.readouterr().err


def test_warm_here_a_failed_download_is_one_line(
    platform: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """huggingface_hub's own errors (gated, not found, offline: all OSError) end as one line, not a traceback.
    The hub cannot be reached here, so its offline mode stands in for a failed download."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert main(["cache", "warm", "--here", "-c", str(platform)]) == 1
    err = capsys.readouterr().err
    assert f"downloading {SOURCE}@{REVISION} from the HuggingFace hub failed" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
