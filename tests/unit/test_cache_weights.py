"""Which files the S3 cache mirrors: one servable set of weights, every tokenizer file vLLM 0.32 reads, and an
up-front refusal of a repository the cache cannot serve.

The rules under test (src/inferctl/cache/mirror.py's docstring, from vLLM 0.32's runai_streamer_loader.py,
default_loader.py, weight_utils.py, transformers_utils/config.py and tokenizers/registry.py). The oracles are real
parts where they run here: runai-model-streamer's own ``list_safetensors`` (what vLLM's streamer loader will load)
against a real S3 API (moto on loopback: AWS cannot be reached), mistral_common's tokenizer version enums, and
inferctl's CLI. The hub is faked at huggingface_hub's HTTP seam (tests/support/sizing.py): it cannot be reached.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from inferctl.cache.mirror import (
    HF_INDEX,
    MANIFEST_NAME,
    NO_SAFETENSORS,
    SUPPORT_PATTERNS,
    UnservableSnapshot,
    cache_prefix,
    choose_weights,
    mirror_directory,
    object_sizes,
    read_manifest,
)
from inferctl.cache.mirror_failures import diagnose_mirror
from inferctl.catalog import load_profile
from inferctl.cli.app import main
from tests.support.s3 import LoopbackS3, demo_snapshot, loopback_s3, needs_moto
from tests.support.sizing import LLAMA_3_8B, FakeHub, fake_hub, fixture_config

__all__ = ["loopback_s3"]  # the fixture, imported for pytest

MODEL_ID = "acme/model"
REVISION = "0123456789abcdef0123456789abcdef01234567"
NO_INDEX = lambda _name: None  # noqa: E731  a listing without the index files' contents
SHARDS = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]
# Both layouts side by side, as vLLM's default_loader.py describes Mistral-7B-Instruct-v0.3 ("there are both
# sharded safetensors files and a consolidated safetensors file"): Hugging Face shards with config.json and
# model.safetensors.index.json, Mistral's consolidated.safetensors with params.json, and both tokenizer kinds.
BOTH_LAYOUTS = [
    "config.json",
    "consolidated.safetensors",
    "generation_config.json",
    *SHARDS,
    HF_INDEX,
    "params.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer.model.v3",
    "tokenizer_config.json",
]
BIN_ONLY = ["config.json", "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json"]


# --- the choice, pure -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "only"),
    [
        (BIN_ONLY, "only PyTorch pytorch_model.bin"),
        (["config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"], "only PyTorch"),
        (["config.json", "model.pt"], "only PyTorch model.pt"),
        (["config.json", "README.md"], ""),
        (["config.json", "original/model.safetensors"], ""),  # the streamer lists the top level only
    ],
)
def test_no_safetensors_is_refused_with_the_fix(names: list[str], only: str) -> None:
    with pytest.raises(UnservableSnapshot) as caught:
        choose_weights(names, NO_INDEX, what="acme/model@abc")
    message = str(caught.value)
    assert message.startswith(f"acme/model@abc {NO_SAFETENSORS}") and only in message
    assert "models[].cache: false" in message and "safetensors" in message


def test_both_layouts_mirror_the_shards_that_config_json_describes() -> None:
    index = {"metadata": {"total_size": 3}, "weight_map": {f"w{i}": name for i, name in enumerate(SHARDS)}}
    choice = choose_weights(BOTH_LAYOUTS, lambda name: index if name == HF_INDEX else None)
    assert choice.files == tuple(SHARDS) and choice.left_out == ("consolidated.safetensors",)
    assert "config.json" in choice.note


def test_a_mistral_only_repository_mirrors_its_consolidated_weights() -> None:
    names = ["consolidated.safetensors", "params.json", "tekken.json"]
    assert choose_weights(names, NO_INDEX).files == ("consolidated.safetensors",)
    # Without a config.json a stray shard is the one left out.
    choice = choose_weights([*names, "model.safetensors"], NO_INDEX)
    assert choice.files == ("consolidated.safetensors",) and choice.left_out == ("model.safetensors",)


def test_the_shard_index_narrows_the_shards_and_must_be_complete() -> None:
    """vLLM's filter_duplicate_safetensors_files: only files the index names, and an error for one it names that
    is missing."""
    extra = [*SHARDS, "model-extra.safetensors", "config.json"]
    index = {"weight_map": {"a": SHARDS[0], "b": SHARDS[1], "c": SHARDS[2]}}
    assert choose_weights(extra, lambda n: index if n == HF_INDEX else None).files == tuple(SHARDS)
    missing = {"weight_map": {"a": "model-00009-of-00009.safetensors"}}
    with pytest.raises(UnservableSnapshot, match=r"model-00009-of-00009\.safetensors, which the snapshot lacks"):
        choose_weights(extra, lambda n: missing if n == HF_INDEX else None)


def test_every_tokenizer_file_vllm_reads_is_downloaded() -> None:
    """vLLM 0.32 tokenizers/registry.py picks the Mistral tokenizer by ``tekken.json`` or ``tokenizer.model.v*``;
    mistral_common (installed with vLLM) accepts ``.model.<version><multimodal version>`` files. Every such name,
    and the usual Hugging Face tokenizer files, must match a download pattern."""
    from mistral_common.tokens.tokenizers.base import TokenizerVersion
    from mistral_common.tokens.tokenizers.image import MultiModalVersion

    multimodal = ["", *MultiModalVersion.__members__]
    versioned = [f"tokenizer.model.{v}{m}" for v in TokenizerVersion.__members__ for m in multimodal]
    wanted = [*versioned, "tekken.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json", "vocab.json",
              "merges.txt", "chat_template.jinja", "generation_config.json", "qwen.tiktoken"]  # fmt: skip
    unmatched = [name for name in wanted if not any(fnmatch.fnmatchcase(name, p) for p in SUPPORT_PATTERNS)]
    assert unmatched == []
    assert not any(fnmatch.fnmatchcase("pytorch_model.bin", p) for p in SUPPORT_PATTERNS)


def test_the_refusal_is_diagnosed_from_the_jobs_log() -> None:
    with pytest.raises(UnservableSnapshot) as caught:
        choose_weights(BIN_ONLY, NO_INDEX, what=f"{MODEL_ID}@{REVISION}")
    found = diagnose_mirror(["downloading acme/model from the HuggingFace hub", f"refused: {caught.value}"])
    assert found is not None and "models[].cache: false" in found.hint


# --- the mirror against a real S3 API -------------------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return demo_snapshot(tmp_path)


@needs_moto
def test_both_layouts_upload_one_set_and_the_streamer_lists_only_it(
    loopback_s3: LoopbackS3, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(demo / "model.safetensors", demo / "consolidated.safetensors")  # the same weights, twice
    (demo / "params.json").write_text("{}")
    (demo / "tokenizer.model.v3").write_bytes(b"sentencepiece")
    s3 = loopback_s3.client()
    result = mirror_directory(s3, demo, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    prefix = cache_prefix(MODEL_ID, REVISION)
    stored = object_sizes(s3, loopback_s3.bucket, prefix)
    assert "consolidated.safetensors" not in stored and result.left_out == ["consolidated.safetensors"]
    assert {"model.safetensors", "params.json", "tokenizer.model.v3", MANIFEST_NAME} <= set(stored)
    manifest = read_manifest(s3, loopback_s3.bucket, prefix)
    assert manifest is not None and "consolidated.safetensors" not in {f["path"] for f in manifest["files"]}
    if importlib.util.find_spec("runai_model_streamer") is None:
        pytest.skip("needs runai-model-streamer[s3] (the dev extra) to list as vLLM's loader does")
    from runai_model_streamer import list_safetensors

    for name, value in loopback_s3.env().items():
        monkeypatch.setenv(name, value)
    listed = list_safetensors(f"s3://{loopback_s3.bucket}/{prefix}")
    assert sorted(listed) == [f"s3://{loopback_s3.bucket}/{prefix}model.safetensors"]


@needs_moto
def test_a_bin_only_snapshot_uploads_nothing(loopback_s3: LoopbackS3, demo: Path) -> None:
    (demo / "model.safetensors").rename(demo / "pytorch_model.bin")
    s3 = loopback_s3.client()
    with pytest.raises(UnservableSnapshot, match=NO_SAFETENSORS):
        mirror_directory(s3, demo, bucket=loopback_s3.bucket, model_id=MODEL_ID, revision=REVISION)
    assert object_sizes(s3, loopback_s3.bucket, cache_prefix(MODEL_ID, REVISION)) == {}  # no manifest, no files


# --- up front: plan refuses before anything is created -------------------------------------------------------------


def _cached_config(path: Path, cache: bool = True) -> Path:
    config = {
        "name": "weights",
        "target": "kubernetes",
        "models": [{"name": "m", "source": MODEL_ID, "revision": REVISION, "cache": cache}],
        "cache": {"bucket": "team-cache"},
        "kubernetes": {"storage_class": "gp3"},
    }
    path.write_text(json.dumps(config))
    return path


def test_the_hub_listing_reaches_the_profile(tmp_path: Path) -> None:
    hub = FakeHub({MODEL_ID: fixture_config(LLAMA_3_8B)}, files={MODEL_ID: [*BIN_ONLY, "original/params.json"]})
    with fake_hub(hub, tmp_path / "hf"):
        profile = load_profile(MODEL_ID)
    assert profile.repo_files == tuple(sorted(BIN_ONLY))  # top level only
    assert "repo_files" not in profile.to_dict()


@pytest.mark.parametrize("cache", [True, False])
def test_plan_refuses_a_bin_only_model_served_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cache: bool
) -> None:
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    hub = FakeHub({MODEL_ID: fixture_config(LLAMA_3_8B)}, files={MODEL_ID: BIN_ONLY})
    with fake_hub(hub, tmp_path / "hf"):
        code = main(["plan", "-c", str(_cached_config(tmp_path / "inferctl.json", cache)), "--output", "json"])
    captured = capsys.readouterr()
    if not cache:  # vLLM's default loader reads .bin: nothing to refuse
        assert code == 0
        return
    assert code == 2 and captured.out == ""
    assert f"models[0] (m): {MODEL_ID}@{REVISION} {NO_SAFETENSORS} (only PyTorch pytorch_model.bin)" in captured.err
    assert "models[].cache: false" in captured.err and "Traceback" not in captured.err


def test_plan_notes_which_layout_is_mirrored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    hub = FakeHub({MODEL_ID: fixture_config(LLAMA_3_8B)}, files={MODEL_ID: BOTH_LAYOUTS})
    with fake_hub(hub, tmp_path / "hf"):
        code = main(["plan", "-c", str(_cached_config(tmp_path / "inferctl.json")), "--output", "json"])
    assert code == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("mirrors the Hugging Face shards" in n and "left out: consolidated.safetensors" in n for n in notes)


@needs_moto
def test_the_job_exits_with_the_refusal_code_and_says_why(
    loopback_s3: LoopbackS3, demo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Job's entry (mirror.main) on a .bin-only snapshot: exit REFUSED_EXIT, which its pod failure policy turns
    into a failed Job without retries, and the refusal on stderr, which becomes the termination message. The hub
    download is replaced by the local snapshot: the hub cannot be reached here."""
    import inferctl.cache.mirror as module

    (demo / "model.safetensors").rename(demo / "pytorch_model.bin")
    for name, value in {**loopback_s3.env(), "CACHE_BUCKET": loopback_s3.bucket, "MODEL_ID": MODEL_ID,
                        "MODEL_REVISION": REVISION, "WORK_DIR": str(demo.parent / "work")}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(module, "download_snapshot", lambda model_id, revision, dest: demo)
    assert module.main([]) == module.REFUSED_EXIT
    err = capsys.readouterr().err
    assert err.startswith(f"refused: {MODEL_ID}@{REVISION} {NO_SAFETENSORS}")
    assert diagnose_mirror(err.splitlines()) is not None
