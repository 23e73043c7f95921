"""Mirror one HuggingFace snapshot into the S3 model cache, once.

Layout: ``s3://<bucket>/models/<id>/<revision>/<file>`` plus ``<prefix>/inferctl-manifest.json`` listing every
file with its size and SHA-256. The manifest is written last, so its presence means the snapshot is complete; a
second run compares local files with it (and with the objects' sizes) and uploads only what differs.

This module imports only the standard library, ``boto3`` and ``huggingface_hub``: the mirror Job runs this very
file (mounted from a ConfigMap) with ``python3`` in the vLLM image, which ships both, so the code the tests run
against a real S3 API (moto) is the code the cluster runs. Run as a script it reads its settings from the
environment (see :func:`main`) and prints one progress line per file.
"""

from __future__ import annotations

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
# What vLLM needs to serve from the cache: weights as safetensors (the streamer reads nothing else), config,
# tokenizer and generation files. Pickled .bin/.pt weights are never mirrored.
ALLOW_PATTERNS = ("*.safetensors", "*.json", "*.model", "*.txt", "*.tiktoken", "*.jinja", "*.py")
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


Progress = Callable[[str, int, int], None]  # (message, bytes done, bytes total)


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


def scan_snapshot(root: Path) -> list[FileEntry]:
    """Every file of a snapshot directory, with size and hash; huggingface_hub's own ``.cache`` is left out."""
    entries = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0].startswith(".") or rel.name in IGNORE_NAMES:
            continue
        entries.append(FileEntry(rel.as_posix(), path.stat().st_size, sha256_of(path)))
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
    """Upload the snapshot in ``root`` to the cache; files the manifest and the bucket already hold are skipped."""
    return upload_tree(
        s3, root, bucket=bucket, prefix=cache_prefix(model_id, revision), model_id=model_id, revision=revision,
        progress=progress,
    )  # fmt: skip


def upload_tree(
    s3: Any,
    root: Path,
    *,
    bucket: str,
    prefix: str,
    model_id: str,
    revision: str,
    progress: Progress | None = None,
    keep: Callable[[str], bool] | None = None,
) -> MirrorResult:
    """Upload every file under ``root`` (those ``keep`` accepts) to ``prefix``, then the manifest (last: its presence
    means complete); files the manifest and the bucket already hold are skipped. Shared by the weights and vLLM's
    compile cache."""
    started = time.monotonic()
    entries = [e for e in scan_snapshot(root) if keep is None or keep(e.path)]
    done = {f["path"]: (f["size"], f["sha256"]) for f in (read_manifest(s3, bucket, prefix) or {}).get("files", [])}
    present = object_sizes(s3, bucket, prefix)
    result = MirrorResult(total_bytes=sum(e.size for e in entries))
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
    """Delete a mirrored snapshot, manifest first (so a half-deleted prefix never looks complete). Returns count."""
    prefix = cache_prefix(model_id, revision)
    keys = [prefix + rel for rel in object_sizes(s3, bucket, prefix)]
    manifest = prefix + MANIFEST_NAME
    had_manifest = manifest in keys
    if had_manifest:
        s3.delete_object(Bucket=bucket, Key=manifest)
        keys.remove(manifest)
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(keys) + int(had_manifest)


def download_snapshot(model_id: str, revision: str, dest: Path) -> Path:
    """The HF snapshot at ``revision`` into ``dest`` (token from ``HF_TOKEN``/``HF_TOKEN_PATH``, as the hub reads)."""
    from huggingface_hub import snapshot_download

    path = snapshot_download(
        repo_id=model_id, revision=revision, local_dir=str(dest), allow_patterns=list(ALLOW_PATTERNS)
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
    root = download_snapshot(model_id, revision, work / "snapshot")
    result = mirror_directory(s3, root, bucket=bucket, model_id=model_id, revision=revision, progress=_print_progress)
    print(
        f"mirrored {len(result.uploaded)} file(s), {result.uploaded_bytes / 1e9:.2f} GB, to s3://{bucket}/{prefix} "
        f"in {result.seconds:.0f} s ({len(result.skipped)} already there)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
