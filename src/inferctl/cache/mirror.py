"""Mirror one HuggingFace snapshot into the S3 model cache, once.

Layout: ``s3://<bucket>/models/<id>/<revision>/<file>`` plus ``<prefix>/inferctl-manifest.json`` listing every
file with its size and SHA-256. The manifest is written last, so its presence means the snapshot is complete; a
second run compares local files with it (and with the objects' sizes) and uploads only what differs.

Which files (:func:`choose_weights`): the cache is served by vLLM's Run:ai streamer loader, which loads every
top-level ``*.safetensors`` file under the prefix and nothing else (vLLM 0.32
model_executor/model_loader/runai_streamer_loader.py ``_prepare_weights``; runai-model-streamer ``list_safetensors``
"is not recursive"), and reads config and tokenizer from the other files, pulled to a local directory
(vllm/config/model.py ``maybe_pull_model_tokenizer_for_runai``: ``*.json``, ``*.model``, ``*.py``, then everything
but weights). So:

* a repository without safetensors weights (PyTorch ``.bin``/``.pt`` only) cannot be served from the cache: the
  mirror refuses it before downloading anything, rather than leave a complete-looking manifest and a vLLM that
  crash-loops on "Cannot find any safetensors model weights";
* of two layouts of the same weights, one is mirrored. vLLM's default loader chooses by format
  (model_loader/default_loader.py ``_prepare_weights``: ``consolidated*.safetensors`` with their
  ``consolidated.safetensors.index.json`` for the Mistral format, else ``*.safetensors`` filtered by
  ``model.safetensors.index.json`` in ``filter_duplicate_safetensors_files``, weight_utils.py). Its format comes
  from the files it sees: served from the cache vLLM sees only the pulled non-weight files, never a
  ``consolidated*.safetensors``, so it reads ``config.json`` (transformers_utils/config.py ``get_config``: Mistral
  format only with ``consolidated*.safetensors`` and ``params.json``), whose tensor names are the Hugging Face
  shards'. The shards are mirrored when there is a ``config.json``; the consolidated files only when there is not;
* every tokenizer file vLLM 0.32 reads is mirrored, Mistral's versioned SentencePiece files included
  (``tokenizer.model.v3``, ``tokenizer.model.v7m1``: vllm/tokenizers/registry.py looks for ``tekken.json`` and
  ``tokenizer.model.v*``; mistral_common 1.13 tokens/tokenizers/utils.py ``_filter_valid_tokenizer_files`` accepts
  ``.model.<version>[<mm version>]``).

This module imports only the standard library, ``boto3`` and ``huggingface_hub``: the mirror Job runs this very
file (mounted from a ConfigMap) with ``python3`` in the vLLM image, which ships both, so the code the tests run
against a real S3 API (moto) is the code the cluster runs. Run as a script it reads its settings from the
environment (see :func:`main`) and prints one progress line per file.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "inferctl-manifest.json"
MANIFEST_FORMAT = 1
MODELS_PREFIX = "models"
# What vLLM needs to serve from the cache besides the weights: config, tokenizer and generation files.
SUPPORT_PATTERNS = ("*.json", "*.model", "*.model.v*", "*.txt", "*.tiktoken", "*.jinja", "*.py")
WEIGHTS_SUFFIX = ".safetensors"  # the only weights the streamer reads
PICKLED_WEIGHTS = (".bin", ".pt", ".pth")  # never mirrored
HF_INDEX = "model.safetensors.index.json"
MISTRAL_INDEX = "consolidated.safetensors.index.json"
HF_CONFIG = "config.json"
NO_SAFETENSORS = "has no safetensors weights"  # mirror_failures finds a refusal by this
REFUSED_EXIT = 2  # main()'s exit status for a refused snapshot: the Job fails at once (no retry can help)
IGNORE_NAMES = frozenset({MANIFEST_NAME})
_HASH_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, '/'-separated
    size: int
    sha256: str


@dataclass
class MirrorResult:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    uploaded_bytes: int = 0
    total_bytes: int = 0
    seconds: float = 0.0
    left_out: list[str] = field(default_factory=list)  # weights of another layout, not mirrored


Progress = Callable[[str, int, int], None]  # (message, bytes done, bytes total)
ReadIndex = Callable[[str], dict[str, Any] | None]  # a shard index by file name, None when absent


class UnservableSnapshot(ValueError):
    """The snapshot holds nothing vLLM's Run:ai streamer can serve; the message says what to do."""


@dataclass(frozen=True)
class WeightChoice:
    files: tuple[str, ...]  # the weight files to mirror
    left_out: tuple[str, ...] = ()  # other top-level weight files, not mirrored
    note: str = ""  # why some were left out


def _top_level(names: Iterable[str]) -> list[str]:
    return sorted({name for name in names if "/" not in name})


def _indexed(files: list[str], index_name: str, read_index: ReadIndex, what: str) -> list[str]:
    """``files`` narrowed to those the shard index names, as vLLM's ``filter_duplicate_safetensors_files`` does
    (and, like it, refusing an index that names a file the snapshot lacks)."""
    index = read_index(index_name)
    if index is None:
        return files
    named = set((index.get("weight_map") or {}).values())
    missing = sorted(named - set(files))
    if missing:
        raise UnservableSnapshot(
            f"{what}: {index_name} names {', '.join(missing)}, which the snapshot lacks; pick a complete revision"
        )
    return [name for name in files if name in named]


def choose_weights(names: Iterable[str], read_index: ReadIndex, *, what: str = "the model") -> WeightChoice:
    """The weight files of a snapshot (``names``: its paths) to mirror, by the rules in this module's docstring.
    Raises :class:`UnservableSnapshot` when there are none the streamer can load."""
    top = _top_level(names)
    weights = [name for name in top if name.endswith(WEIGHTS_SUFFIX)]
    if not weights:
        pickled = [name for name in top if name.endswith(PICKLED_WEIGHTS)]
        only = f" (only PyTorch {', '.join(pickled[:3])}{' ...' if len(pickled) > 3 else ''})" if pickled else ""
        raise UnservableSnapshot(
            f"{what} {NO_SAFETENSORS}{only}: the S3 cache serves weights through vLLM's Run:ai streamer, which "
            "loads safetensors only; set models[].cache: false for it (vLLM's default loader reads .bin), or serve "
            "a revision or repository with safetensors weights"
        )
    consolidated = [name for name in weights if name.startswith("consolidated")]
    shards = [name for name in weights if name not in consolidated]
    if shards and (not consolidated or HF_CONFIG in top):
        chosen = _indexed(shards, HF_INDEX, read_index, what)
        note = "the Hugging Face shards, which config.json describes; not consolidated*.safetensors (Mistral format)"
    else:
        chosen = _indexed(consolidated, MISTRAL_INDEX, read_index, what)
        note = "consolidated*.safetensors (Mistral format: there is no config.json)"
    left_out = tuple(name for name in weights if name not in chosen)
    return WeightChoice(tuple(chosen), left_out, note if left_out else "")


def mirrored_names(names: Iterable[str], choice: WeightChoice) -> list[str]:
    """What a snapshot contributes to the cache: the chosen weights and every file that is not a weight."""
    keep = set(choice.files)
    return sorted(
        name for name in names if name in keep or not (name.endswith(WEIGHTS_SUFFIX) or name.endswith(PICKLED_WEIGHTS))
    )


def _json_in(root: Path) -> ReadIndex:
    def read(name: str) -> dict[str, Any] | None:
        path = root / name
        if not path.is_file():
            return None
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document

    return read


def cache_prefix(model_id: str, revision: str) -> str:
    """``models/<id>/<revision>/``: the id keeps its ``org/name`` slash, one folder per revision."""
    if not model_id or not revision or ".." in model_id.split("/") or "/" in revision:
        raise ValueError(f"cannot key the cache by model {model_id!r} at revision {revision!r}")
    return f"{MODELS_PREFIX}/{model_id.strip('/')}/{revision}/"


def cache_uri(bucket: str, model_id: str, revision: str) -> str:
    return f"s3://{bucket}/{cache_prefix(model_id, revision)}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot_files(root: Path) -> list[str]:
    """Every file of a snapshot directory ('/'-separated); huggingface_hub's own ``.cache`` is left out."""
    names = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not rel.parts[0].startswith(".") and rel.name not in IGNORE_NAMES:
            names.append(rel.as_posix())
    return names


def scan_snapshot(root: Path, names: Iterable[str] | None = None) -> list[FileEntry]:
    """``names`` (default: every file) of a snapshot directory, with size and hash."""
    listed = snapshot_files(root) if names is None else list(names)
    entries = [FileEntry(name, (root / name).stat().st_size, sha256_of(root / name)) for name in listed]
    if not entries:
        raise ValueError(f"{root} holds no files to mirror")
    return entries


def manifest_document(model_id: str, revision: str, entries: Iterable[FileEntry]) -> dict[str, Any]:
    listed = list(entries)
    return {
        "format": MANIFEST_FORMAT,
        "model": model_id,
        "revision": revision,
        "total_bytes": sum(e.size for e in listed),
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in listed],
    }


def read_manifest(s3: Any, bucket: str, prefix: str) -> dict[str, Any] | None:
    """The manifest at ``prefix``, or None when there is none (the snapshot is not, or not completely, mirrored).

    Listed before it is read: S3 answers a GetObject for a missing key with NoSuchKey only to a caller allowed
    s3:ListBucket on the bucket itself; the cache roles may list ``models/*`` only, so they would get AccessDenied."""
    key = prefix + MANIFEST_NAME
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(obj["Key"] == key for obj in listed):
        return None
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:  # deleted between the listing and the read
        return None
    document: dict[str, Any] = json.loads(body)
    return document if document.get("format") == MANIFEST_FORMAT else None


def object_sizes(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    """Relative key -> size of every object under ``prefix``."""
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            sizes[obj["Key"][len(prefix) :]] = int(obj["Size"])
    return sizes


def mirror_directory(
    s3: Any,
    root: Path,
    *,
    bucket: str,
    model_id: str,
    revision: str,
    progress: Progress | None = None,
) -> MirrorResult:
    """Upload the snapshot in ``root`` to the cache (one set of weights, see :func:`choose_weights`); files the
    manifest and the bucket already hold are skipped. Raises :class:`UnservableSnapshot` before uploading anything
    when the snapshot has no weights the streamer can load."""
    names = snapshot_files(root)
    choice = choose_weights(names, _json_in(root), what=f"{model_id}@{revision}")
    entries = scan_snapshot(root, mirrored_names(names, choice))
    note = f"mirroring {choice.note}; left out: {', '.join(choice.left_out)}" if choice.left_out else None
    result = upload_tree(
        s3, root, entries, bucket=bucket, prefix=cache_prefix(model_id, revision), model_id=model_id,
        revision=revision, progress=progress, note=note,
    )  # fmt: skip
    result.left_out = list(choice.left_out)
    return result


def upload_tree(
    s3: Any,
    root: Path,
    entries: list[FileEntry],
    *,
    bucket: str,
    prefix: str,
    model_id: str,
    revision: str,
    progress: Progress | None = None,
    note: str | None = None,
) -> MirrorResult:
    """Upload ``entries`` (files under ``root``) to ``prefix``, then the manifest (last: its presence means
    complete); files the manifest and the bucket already hold are skipped. Shared by the weights and vLLM's compile
    cache (:mod:`inferctl.cache.compile_cache`); ``note`` is a first progress line."""
    started = time.monotonic()
    done = {f["path"]: (f["size"], f["sha256"]) for f in (read_manifest(s3, bucket, prefix) or {}).get("files", [])}
    present = object_sizes(s3, bucket, prefix)
    result = MirrorResult(total_bytes=sum(e.size for e in entries))
    if progress and note:
        progress(note, 0, result.total_bytes)
    progressed = 0
    for entry in entries:
        if done.get(entry.path) == (entry.size, entry.sha256) and present.get(entry.path) == entry.size:
            result.skipped.append(entry.path)
        else:
            s3.upload_file(
                str(root / entry.path),
                bucket,
                prefix + entry.path,
                ExtraArgs={"Metadata": {"sha256": entry.sha256}},
            )
            result.uploaded.append(entry.path)
            result.uploaded_bytes += entry.size
        progressed += entry.size
        if progress:
            verb = "skipped" if result.skipped and result.skipped[-1] == entry.path else "uploaded"
            progress(f"{verb} {entry.path}", progressed, result.total_bytes)
    if result.uploaded or read_manifest(s3, bucket, prefix) is None:
        document = manifest_document(model_id, revision, entries)
        s3.put_object(
            Bucket=bucket,
            Key=prefix + MANIFEST_NAME,
            Body=json.dumps(document, indent=1).encode(),
            ContentType="application/json",
        )
    result.seconds = time.monotonic() - started
    return result


def drop_snapshot(s3: Any, *, bucket: str, model_id: str, revision: str) -> int:
    """Delete a mirrored snapshot (see :func:`delete_tree`). Returns the number of objects deleted."""
    return delete_tree(s3, bucket=bucket, prefix=cache_prefix(model_id, revision))


def delete_tree(s3: Any, *, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix``, each manifest first (so a half-deleted tree never looks complete).
    Returns the number of objects deleted."""
    keys = [prefix + rel for rel in object_sizes(s3, bucket, prefix)]
    manifests = {key for key in keys if key.rsplit("/", 1)[-1] == MANIFEST_NAME}
    for manifest in sorted(manifests):
        s3.delete_object(Bucket=bucket, Key=manifest)
    rest = [key for key in keys if key not in manifests]
    for start in range(0, len(rest), 1000):  # DeleteObjects takes at most 1000 keys
        batch = [{"Key": key} for key in rest[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(keys)


def download_snapshot(model_id: str, revision: str, dest: Path) -> Path:
    """The files of the HF snapshot at ``revision`` the cache serves, into ``dest`` (token from
    ``HF_TOKEN``/``HF_TOKEN_PATH``, as the hub reads): its small files and the repository's listing first, so a
    snapshot without servable weights is refused before any weight is downloaded, then one set of weights."""
    from huggingface_hub import HfApi, snapshot_download

    snapshot_download(repo_id=model_id, revision=revision, local_dir=str(dest), allow_patterns=list(SUPPORT_PATTERNS))
    names = HfApi().list_repo_files(model_id, revision=revision)
    choice = choose_weights(names, _json_in(dest), what=f"{model_id}@{revision}")
    path = snapshot_download(
        repo_id=model_id,
        revision=revision,
        local_dir=str(dest),
        allow_patterns=[glob.escape(name) for name in choice.files],  # names, as fnmatch patterns
    )
    return Path(path)


def _print_progress(message: str, done: int, total: int) -> None:
    percent = 100.0 * done / total if total else 100.0
    print(f"[{percent:5.1f}%] {done / 1e9:.2f}/{total / 1e9:.2f} GB {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """The mirror Job's entry: settings from the environment (``CACHE_BUCKET``, ``MODEL_ID``, ``MODEL_REVISION``,
    optional ``WORK_DIR``; AWS credentials from EKS Pod Identity, the HF token from ``HF_TOKEN_PATH``)."""
    import boto3

    bucket, model_id, revision = (os.environ[name] for name in ("CACHE_BUCKET", "MODEL_ID", "MODEL_REVISION"))
    s3 = boto3.client("s3")
    prefix = cache_prefix(model_id, revision)
    if read_manifest(s3, bucket, prefix) is not None:
        print(f"s3://{bucket}/{prefix} is already mirrored; nothing to do", flush=True)
        return 0
    work = Path(os.environ.get("WORK_DIR") or tempfile.mkdtemp(prefix="inferctl-mirror-"))
    print(f"downloading {model_id}@{revision} from the HuggingFace hub", flush=True)
    try:
        root = download_snapshot(model_id, revision, work / "snapshot")
        result = mirror_directory(
            s3, root, bucket=bucket, model_id=model_id, revision=revision, progress=_print_progress
        )
    except UnservableSnapshot as exc:
        print(f"refused: {exc}", file=sys.stderr, flush=True)  # the Job's termination message (logs on error)
        return REFUSED_EXIT
    print(
        f"mirrored {len(result.uploaded)} file(s), {result.uploaded_bytes / 1e9:.2f} GB, to s3://{bucket}/{prefix} "
        f"in {result.seconds:.0f} s ({len(result.skipped)} already there)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
