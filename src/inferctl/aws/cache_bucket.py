"""The S3 model cache seen from this machine (the user's AWS credentials): status, warm from here, drop.

A cached model owns two trees in the bucket: its snapshot's weights (``models/<id>/<revision>/``) and, where its
pods compile, vLLM's compile caches (``compile-cache/<id>/<revision>/<key>/``, one per configuration:
:mod:`inferctl.cache.compile_cache`). Status reports both, the compile cache of the current configuration's key
apart from the stale ones other configurations left; drop deletes both.

``AWS_ENDPOINT_URL`` is honoured as boto3 honours it, so an S3-compatible store (or the tests' moto) works too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferctl.cache.compile_cache import compile_caches_prefix
from inferctl.cache.location import PENDING_BUCKET, CacheLocation, compile_cache_location, compiles, uses_cache
from inferctl.cache.mirror import (
    MANIFEST_NAME,
    MirrorResult,
    Progress,
    UnservableSnapshot,
    delete_tree,
    download_snapshot,
    drop_snapshot,
    mirror_directory,
    object_sizes,
    read_manifest,
)
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError, OperationError
from inferctl.render.model_cache import check_cache_model

if TYPE_CHECKING:
    from inferctl.sizing.placement import Placement

COMPILE_CACHE_OFF = "off"  # the model's pods compile no shared cache (cache/location.py, compile_cache_location)


def cached_models(config: PlatformConfig, only: str | None = None) -> list[tuple[int, ModelDeployment]]:
    """(index, model) of every model served from the cache; ``only`` picks one by name."""
    found = [(i, m) for i, m in enumerate(config.models) if uses_cache(config, m) and only in (None, m.name)]
    if only is not None and not found:
        names = ", ".join(m.name for m in config.models if uses_cache(config, m)) or "none"
        raise ConfigError(f"model {only!r} is not served from the S3 cache (cached models: {names})")
    if not found:
        raise ConfigError("no model uses the S3 cache; set cache.enabled: true (or models[].cache) in the config")
    return found


def location_of(config: PlatformConfig, model: ModelDeployment, index: int) -> CacheLocation:
    location = check_cache_model(config, model, index)
    assert location is not None  # cached_models chose it
    if location.bucket == PENDING_BUCKET:
        raise ConfigError(
            "the cache bucket does not exist yet: 'inferctl up --target aws' creates it (or set cache.bucket)"
        )
    return location


def s3_client(region: str) -> Any:
    from inferctl.aws_sdk import boto3_session

    return boto3_session(region, purpose="the S3 model cache").client("s3")


def s3_errors(action: str, bucket: str) -> Any:
    """A context manager turning botocore failures into one line that says what to do."""
    from contextlib import contextmanager

    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    @contextmanager
    def guard() -> Any:
        try:
            yield
        except NoCredentialsError:
            raise OperationError(
                f"{action}: no AWS credentials; configure them (aws configure, AWS_PROFILE) and re-run"
            ) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404"):
                raise OperationError(f"{action}: bucket {bucket} does not exist; check cache.bucket") from None
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise OperationError(
                    f"{action}: S3 denied access to bucket {bucket} ({code}); use credentials that may read and "
                    "write it"
                ) from None
            raise OperationError(f"{action}: S3 answered {code or exc}") from None
        except BotoCoreError as exc:
            raise OperationError(f"{action}: {exc}") from None

    return guard()


def tree_state(manifest: Mapping[str, Any] | None, objects: Mapping[str, int]) -> str:
    """``complete`` (the manifest lists exactly what is there), ``damaged`` (a listed file is missing or has
    another size), ``partial`` (files without a manifest: an upload stopped half-way) or ``empty``."""
    if manifest is not None:
        listed = {f["path"]: f["size"] for f in manifest["files"]}
        return "complete" if all(objects.get(path) == size for path, size in listed.items()) else "damaged"
    return "partial" if objects else "empty"


def snapshot_status(s3: Any, location: CacheLocation, model: ModelDeployment) -> dict[str, Any]:
    with s3_errors(f"reading {location.uri}", location.bucket):
        manifest = read_manifest(s3, location.bucket, location.prefix)
        sizes = object_sizes(s3, location.bucket, location.prefix)
    objects = {k: v for k, v in sizes.items() if k != MANIFEST_NAME}
    state = tree_state(manifest, objects)
    return {
        "model": model.name,
        "source": model.source,
        "revision": model.revision,
        "uri": location.uri,
        "state": "mirrored" if state == "complete" else state,
        "files": len(objects),
        "bytes": sum(objects.values()),
    }


def compile_caches_uri(location: CacheLocation, model: ModelDeployment) -> str:
    """Where every compile cache of the snapshot at ``location`` lives: ``s3://<bucket>/compile-cache/<id>/<rev>/``."""
    assert model.revision is not None  # location_of checked it
    return f"s3://{location.bucket}/{compile_caches_prefix(model.source, model.revision)}"


def compile_cache_status(
    s3: Any, location: CacheLocation, model: ModelDeployment, current: CacheLocation | None
) -> dict[str, Any]:
    """The compile caches of the snapshot at ``location``: ``compile_cache``, the one the current configuration's
    pods fetch (``current``; None when they compile none: state ``off``), and ``stale_compile_caches``, those of
    other keys (an earlier image, engine arguments or GPU), which no pod of this configuration reads."""
    assert model.revision is not None  # location_of checked it
    root = compile_caches_prefix(model.source, model.revision)
    trees: dict[str, dict[str, int]] = {}
    with s3_errors(f"reading s3://{location.bucket}/{root}", location.bucket):
        for relative, size in object_sizes(s3, location.bucket, root).items():
            key, _, path = relative.partition("/")
            if path:
                trees.setdefault(f"{root}{key}/", {})[path] = size
        caches: dict[str, dict[str, Any]] = {}
        for prefix, objects in sorted(trees.items()):
            manifest = read_manifest(s3, location.bucket, prefix) if MANIFEST_NAME in objects else None
            files = {path: size for path, size in objects.items() if path != MANIFEST_NAME}
            state = tree_state(manifest, files)
            caches[prefix] = {
                "uri": f"s3://{location.bucket}/{prefix}",
                "state": "written" if state == "complete" else state,
                "files": len(files),
                "bytes": sum(files.values()),
            }
    if current is None:
        now: dict[str, Any] = {"uri": None, "state": COMPILE_CACHE_OFF, "files": 0, "bytes": 0}
    else:
        empty = {"uri": current.uri, "state": "empty", "files": 0, "bytes": 0}
        now = caches.pop(current.prefix, empty)
    return {"compile_cache": now, "stale_compile_caches": list(caches.values())}


def cache_status(
    config: PlatformConfig, s3: Any | None = None, placements: Mapping[str, Placement] | None = None
) -> list[dict[str, Any]]:
    """Per cached model: its snapshot (:func:`snapshot_status`) and its compile caches (:func:`compile_cache_status`);
    the current compile cache's key comes from sizing's ``placements`` (sized here when not given)."""
    chosen = cached_models(config)
    if placements is None and any(compiles(config, model) for _, model in chosen):
        from inferctl.sizing import plan_platform

        placements = plan_platform(config).placements
    rows = []
    for index, model in chosen:
        location = location_of(config, model, index)
        client = s3 or s3_client(location.region)
        current = None
        if placements is not None and compiles(config, model):
            current = compile_cache_location(config, model, placements[model.name], index)
        compiled = compile_cache_status(client, location, model, current)
        rows.append({**snapshot_status(client, location, model), **compiled})
    return rows


def warm_here(
    config: PlatformConfig,
    model: ModelDeployment,
    index: int,
    *,
    s3: Any | None = None,
    progress: Progress | None = None,
) -> MirrorResult:
    """Mirror from this machine: download the snapshot (HF_TOKEN from the environment), upload with our
    credentials. Skips the download when the manifest is already there."""
    location = location_of(config, model, index)
    client = s3 or s3_client(location.region)
    assert model.revision is not None  # location_of checked it
    with s3_errors(f"mirroring to {location.uri}", location.bucket):
        if read_manifest(client, location.bucket, location.prefix) is not None:
            return MirrorResult()
        with tempfile.TemporaryDirectory(prefix="inferctl-mirror-") as work:
            try:
                root = _download(model.source, model.revision, Path(work) / "snapshot")
                return mirror_directory(
                    client, root, bucket=location.bucket, model_id=model.source, revision=model.revision,
                    progress=progress,
                )  # fmt: skip
            except UnservableSnapshot as exc:  # refused before anything was uploaded
                raise ConfigError(f"models[{index}]: {exc}") from None


def _download(source: str, revision: str, dest: Path) -> Path:
    """The snapshot, or one line on what went wrong: huggingface_hub's errors (gated, not found, offline) and a
    full disk are all OSError; their texts name the URL, never the token."""
    from inferctl.cache.mirror_failures import diagnose_mirror
    from inferctl.catalog.hub import hub_http_error

    try:
        return download_snapshot(source, revision, dest)
    except (OSError, hub_http_error()) as exc:  # the listing's transport errors are not OSError
        text = str(exc)
        found = diagnose_mirror([text])
        reason = f"{found.cause}; {found.hint}" if found else (text.strip().splitlines() or [type(exc).__name__])[0]
        raise OperationError(f"downloading {source}@{revision} from the HuggingFace hub failed: {reason}") from None


def drop(config: PlatformConfig, model: ModelDeployment, index: int, *, s3: Any | None = None) -> int:
    """Delete the model's snapshot from the bucket; the number of objects deleted."""
    location = location_of(config, model, index)
    client = s3 or s3_client(location.region)
    assert model.revision is not None
    with s3_errors(f"deleting {location.uri}", location.bucket):
        return drop_snapshot(client, bucket=location.bucket, model_id=model.source, revision=model.revision)


def drop_compile_caches(config: PlatformConfig, model: ModelDeployment, index: int, *, s3: Any | None = None) -> int:
    """Delete every compile cache of the model's snapshot, the current key's and stale ones (the next cold start
    compiles and its compile Job writes the cache again); the number of objects deleted."""
    location = location_of(config, model, index)
    client = s3 or s3_client(location.region)
    assert model.revision is not None
    with s3_errors(f"deleting {compile_caches_uri(location, model)}", location.bucket):
        return delete_tree(client, bucket=location.bucket, prefix=compile_caches_prefix(model.source, model.revision))


def is_mirrored(config: PlatformConfig, model: ModelDeployment, index: int, *, s3: Any | None = None) -> bool | None:
    """Whether the snapshot's manifest is in the bucket; None when this machine cannot tell (no credentials, no
    access, bucket not created yet): the mirror Job then runs and finds out itself."""
    try:
        location = location_of(config, model, index)
    except (OperationError, ConfigError):
        return None
    return is_written(config, location.uri, s3=s3)


def is_written(config: PlatformConfig, uri: str, *, s3: Any | None = None) -> bool | None:
    """Whether ``s3://<bucket>/<prefix>`` (e.g. a compile cache) holds its manifest; None when this machine cannot
    tell (no credentials, no access, bucket not created yet)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if bucket == PENDING_BUCKET:
        return None
    try:
        client = s3 or s3_client(config.cache.region or config.aws.region)
        with s3_errors(f"reading {uri}", bucket):
            return read_manifest(client, bucket, prefix) is not None
    except (OperationError, ConfigError):
        return None
