"""``inferctl cache status|drop`` (and ``warm --here`` when already mirrored) against moto's S3 server on loopback:
the CLI as a user runs it (in-process), boto3 reaching the loopback endpoint through ``AWS_ENDPOINT_URL`` as it
would reach AWS. moto stands in for S3 only because AWS cannot be reached here. Weights are written by the real
mirror (``mirror_directory``) and compile caches by the compile Job's real upload (``publish_tree``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from inferctl.cache.compile_cache import compile_cache_prefix, publish_tree
from inferctl.cache.mirror import mirror_directory, object_sizes, read_manifest
from inferctl.cli.app import main
from inferctl.demo_model import ensure_demo_model
from inferctl.home import Home
from tests.support.render import one
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


def _compiling(path: Path) -> None:
    """The same platform with Karpenter pools: only there do the model's pods share a compile cache."""
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "kubernetes": {"karpenter": True}}))


def _fetched_prefix(path: Path) -> str:
    """The prefix the model pods' init container fetches, read from the rendered Deployment (not from status)."""
    from inferctl.config import load_config
    from inferctl.render import render_platform
    from inferctl.render.compile_cache import FETCH_CONTAINER
    from inferctl.sizing import plan_platform

    config, _ = load_config(path)
    objects = render_platform(config, plan_platform(config).placements)
    pod = one(objects, "Deployment", "llama")["spec"]["template"]["spec"]
    fetch = next(c for c in pod["initContainers"] if c["name"] == FETCH_CONTAINER)
    return next(e["value"] for e in fetch["env"] if e["name"] == "COMPILE_CACHE_PREFIX")


def _compile_tree(root: Path, files: int) -> Path:
    for i in range(files):
        (root / "torch_compile_cache" / f"rank_{i}").mkdir(parents=True)
        (root / "torch_compile_cache" / f"rank_{i}" / "artifact.bin").write_bytes(b"compiled" * (i + 1))
    return root


def test_status_shows_the_current_compile_cache_apart_from_stale_ones(
    platform: Path, loopback_s3: LoopbackS3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The compile cache of the key the pods fetch is reported on its own; caches other keys left (an earlier
    image or engine configuration, written or cut short) are stale."""
    _compiling(platform)
    s3, bucket = loopback_s3.client(), loopback_s3.bucket
    current = _fetched_prefix(platform)
    assert current.startswith(f"compile-cache/{SOURCE}/{REVISION}/")
    before = _status(platform, capsys)
    assert before["compile_cache"] == {"uri": f"s3://{bucket}/{current}", "state": "empty", "files": 0, "bytes": 0}
    assert before["stale_compile_caches"] == []

    publish_tree(s3, _compile_tree(tmp_path / "now", 3), bucket=bucket, prefix=current)
    old = compile_cache_prefix(SOURCE, REVISION, "00000000deadbeef")
    publish_tree(s3, _compile_tree(tmp_path / "old", 1), bucket=bucket, prefix=old)
    cut = compile_cache_prefix(SOURCE, REVISION, "11111111deadbeef")
    s3.put_object(Bucket=bucket, Key=cut + "torch_compile_cache/rank_0/artifact.bin", Body=b"half")  # no manifest
    after = _status(platform, capsys)
    assert after["compile_cache"] == {
        "uri": f"s3://{bucket}/{current}",
        "state": "written",
        "files": 3,
        "bytes": sum(len(b"compiled") * (i + 1) for i in range(3)),
    }
    assert [(c["uri"], c["state"], c["files"]) for c in after["stale_compile_caches"]] == [
        (f"s3://{bucket}/{old}", "written", 1),
        (f"s3://{bucket}/{cut}", "partial", 1),
    ]
    assert after["state"] == "empty"  # the weights are reported as before, on their own

    assert main(["cache", "status", "-c", str(platform)]) == 0
    (row,) = [line.split("│") for line in capsys.readouterr().out.splitlines() if "│ llama" in line]
    assert [cell.strip() for cell in row[5:7]] == ["written", "2"]  # the compile and stale columns


def test_a_model_without_a_compile_cache_says_off(platform: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No Karpenter pools: the pods compile on their own and nothing is fetched (cache/location.py)."""
    report = _status(platform, capsys)
    assert report["compile_cache"] == {"uri": None, "state": "off", "files": 0, "bytes": 0}


def test_drop_removes_the_compile_caches_too_and_says_so(
    platform: Path, loopback_s3: LoopbackS3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _compiling(platform)
    s3, bucket = loopback_s3.client(), loopback_s3.bucket
    snapshot = tmp_path / "snapshot"
    shutil.copytree(ensure_demo_model(Home(tmp_path / "demo")), snapshot)
    mirror_directory(s3, snapshot, bucket=bucket, model_id=SOURCE, revision=REVISION)
    publish_tree(s3, _compile_tree(tmp_path / "now", 2), bucket=bucket, prefix=_fetched_prefix(platform))
    publish_tree(
        s3, _compile_tree(tmp_path / "old", 1), bucket=bucket, prefix=compile_cache_prefix(SOURCE, REVISION, "0ld")
    )
    other_revision = compile_cache_prefix(SOURCE, "another-revision", "k")
    publish_tree(s3, _compile_tree(tmp_path / "other", 1), bucket=bucket, prefix=other_revision)

    assert main(["cache", "drop", "-c", str(platform), "--yes", "--output", "json"]) == 0
    (dropped,) = json.loads(capsys.readouterr().out)["dropped"]
    assert dropped["compile_cache_uri"] == f"s3://{bucket}/compile-cache/{SOURCE}/{REVISION}/"
    assert dropped["compile_cache_objects"] == (2 + 1) + (1 + 1)  # files and a manifest per cache
    assert object_sizes(s3, bucket, f"compile-cache/{SOURCE}/{REVISION}/") == {}
    assert read_manifest(s3, bucket, other_revision) is not None  # another snapshot's cache is not this one's
    status = _status(platform, capsys)
    assert (status["state"], status["compile_cache"]["state"], status["stale_compile_caches"]) == ("empty", "empty", [])

    publish_tree(s3, _compile_tree(tmp_path / "again", 1), bucket=bucket, prefix=_fetched_prefix(platform))
    assert main(["cache", "drop", "-c", str(platform), "--yes"]) == 0
    said = capsys.readouterr().err.replace("\n", "")  # rich folds the long line at the terminal's width
    assert f"and its compile caches s3://{bucket}/compile-cache/{SOURCE}/{REVISION}/ (2 objects)" in said
