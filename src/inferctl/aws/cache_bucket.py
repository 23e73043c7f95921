"""The S3 model cache seen from this machine (the user's AWS credentials): status, warm from here, drop.

``AWS_ENDPOINT_URL`` is honoured as boto3 honours it, so an S3-compatible store (or the tests' moto) works too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from inferctl.cache.location import PENDING_BUCKET, CacheLocation, uses_cache
from inferctl.cache.mirror import (
    MANIFEST_NAME,
    MirrorResult,
    Progress,
    UnservableSnapshot,
    download_snapshot,
    drop_snapshot,
    mirror_directory,
    object_sizes,
    read_manifest,
)
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError, OperationError
from inferctl.render.model_cache import check_cache_model


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


def snapshot_status(s3: Any, location: CacheLocation, model: ModelDeployment) -> dict[str, Any]:
    with s3_errors(f"reading {location.uri}", location.bucket):
        manifest = read_manifest(s3, location.bucket, location.prefix)
        sizes = object_sizes(s3, location.bucket, location.prefix)
    objects = {k: v for k, v in sizes.items() if k != MANIFEST_NAME}
    if manifest is not None:
        listed = {f["path"]: f["size"] for f in manifest["files"]}
        complete = all(objects.get(path) == size for path, size in listed.items())
        state = "mirrored" if complete else "damaged"
    else:
        state = "partial" if objects else "empty"
    return {
        "model": model.name,
        "source": model.source,
        "revision": model.revision,
        "uri": location.uri,
        "state": state,
        "files": len(objects),
        "bytes": sum(objects.values()),
    }


def cache_status(config: PlatformConfig, s3: Any | None = None) -> list[dict[str, Any]]:
    rows = []
    for index, model in cached_models(config):
        location = location_of(config, model, index)
        rows.append(snapshot_status(s3 or s3_client(location.region), location, model))
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
    location = location_of(config, model, index)
    client = s3 or s3_client(location.region)
    assert model.revision is not None
    with s3_errors(f"deleting {location.uri}", location.bucket):
        return drop_snapshot(client, bucket=location.bucket, model_id=model.source, revision=model.revision)


def is_mirrored(config: PlatformConfig, model: ModelDeployment, index: int, *, s3: Any | None = None) -> bool | None:
    """Whether the snapshot's manifest is in the bucket; None when this machine cannot tell (no credentials, no
    access, bucket not created yet): the mirror Job then runs and finds out itself."""
    try:
        location = location_of(config, model, index)
        client = s3 or s3_client(location.region)
        with s3_errors(f"reading {location.uri}", location.bucket):
            return read_manifest(client, location.bucket, location.prefix) is not None
    except (OperationError, ConfigError):
        return None
