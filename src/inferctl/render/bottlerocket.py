"""The GPU pool's Bottlerocket user data: how its nodes pull the 10-12 GB vLLM image (``pools.gpu.image_pull``).

Bottlerocket takes TOML settings as EC2 user data; Karpenter v1.14.1 parses an EC2NodeClass's ``userData``, sets
the ``settings.kubernetes`` values it manages and keeps every other setting as written (aws/karpenter-provider-aws
v1.14.1, pkg/providers/amifamily/bootstrap/bottlerocketsettings.go: ``SettingsRaw``, ``MarshalTOML``), so these
settings reach the node unchanged. Names, types and accepted values are Bottlerocket's (the settings model of
bottlerocket-os/bottlerocket-settings-sdk, crate bottlerocket-settings-models, and the settings reference of
bottlerocket-os/bottlerocket-project-website), and bottlerocket-os/bottlerocket-core-kit's templates
(``packages/soci-snapshotter/soci-config-toml``, ``packages/containerd-2.2/``) write them into soci-snapshotter's
and containerd's configuration; tests/unit/test_bottlerocket_user_data.py checks the rendered TOML against all
three, copied as data, and says which release each was read at.

* ``soci-parallel``: containerd's snapshotter becomes SOCI (``settings.container-runtime.snapshotter``) in its
  parallel-pull-unpack mode: each layer is fetched over several HTTP range requests into a file on the data
  volume, and several layers are unpacked at once (awslabs/soci-snapshotter docs/parallel-mode.md).
* ``containerd-chunked``: containerd's own pull, each layer in parallel chunks (containerd >= 2.1 variants; the
  setting is ignored elsewhere).
* ``sequential``: no user data; Bottlerocket's defaults.

The numbers are choices, each with its reason beside it; what they buy is estimated in :mod:`inferctl.cache.coldstart`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from inferctl.config.ami_aliases import SEQUENTIAL_PULL, effective_image_pull
from inferctl.config.models import GpuPool

# soci-snapshotter docs/parallel-mode.md, "Performance Tuning": for images on ECR "the recommended chunk size is
# "8mb" or "16mb", and 10-20 concurrent downloads per image". The vLLM image's big layers (CUDA, torch) want the
# larger chunk and the middle of the range.
SOCI_DOWNLOADS_PER_IMAGE = 16
SOCI_CHUNK_SIZE = "16mb"
# Unpacking is CPU work (gzip); a guess: as many layers at once as the smallest GPU node has vCPUs (g5.xlarge: 4).
SOCI_UNPACKS_PER_IMAGE = 4
# Drop each compressed layer once unpacked: the data volume holds the image once, not twice.
SOCI_DISCARD_UNPACKED_LAYERS = True
# containerd's parallel chunked fetch: the same chunk size and the same number of parallel downloads.
CONTAINERD_CHUNK_SIZE = "16mb"
CONTAINERD_DOWNLOADS = 16


def pull_settings(pool: GpuPool) -> dict[str, Any]:
    """Bottlerocket settings (as nested tables under ``settings``) for the pool's effective pull mode; {} when
    nodes pull sequentially."""
    mode = effective_image_pull(pool.ami_alias, pool.image_pull)
    if mode == "soci-parallel":
        return {
            "container-runtime": {"snapshotter": "soci"},
            "container-runtime-plugins": {
                "soci-snapshotter": {
                    "pull-mode": "parallel-pull-unpack",
                    "parallel-pull-unpack": {
                        "max-concurrent-downloads-per-image": SOCI_DOWNLOADS_PER_IMAGE,
                        "concurrent-download-chunk-size": SOCI_CHUNK_SIZE,
                        "max-concurrent-unpacks-per-image": SOCI_UNPACKS_PER_IMAGE,
                        "discard-unpacked-layers": SOCI_DISCARD_UNPACKED_LAYERS,
                    },
                }
            },
        }
    if mode == "containerd-chunked":
        return {
            "container-runtime": {
                "max-concurrent-downloads": CONTAINERD_DOWNLOADS,
                "concurrent-download-chunk-size": CONTAINERD_CHUNK_SIZE,
            }
        }
    assert mode == SEQUENTIAL_PULL
    return {}


def user_data(pool: GpuPool) -> str | None:
    """The EC2NodeClass ``userData`` (Bottlerocket TOML) of the GPU pool, None when it needs none."""
    settings = pull_settings(pool)
    return toml_tables({"settings": settings}) if settings else None


def toml_tables(document: Mapping[str, Any]) -> str:
    """TOML for nested tables of strings, integers and booleans: one ``[a.b.c]`` header per table with values."""
    lines: list[str] = []

    def emit(path: list[str], table: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
        if scalars:
            if lines:
                lines.append("")
            lines.append(f"[{'.'.join(path)}]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in scalars.items())
        for key, value in table.items():
            if isinstance(value, Mapping):
                emit([*path, key], value)

    for key, value in document.items():
        emit([key], value)
    return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the plain ASCII values written here
    raise TypeError(f"no TOML form for {value!r} here")
