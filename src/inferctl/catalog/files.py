"""A model's files on disk: ``config.json`` and the exact sizes in its safetensors headers (or shard index).

Shared by the local-directory source and the HuggingFace source (:mod:`inferctl.catalog.hub` reads the files it
downloads with these), below both so that neither imports the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inferctl.catalog.profile import WeightsMetadata
from inferctl.errors import ConfigError


def read_json(path: Path, label: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{label}: cannot read {path.name} ({exc}); is it a model's config.json?") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: {path.name} is not a JSON object; is it a model's config.json?")
    return data


def safetensors_metadata(directory: Path) -> WeightsMetadata | None:
    """Exact tensor sizes from the safetensors headers in ``directory``, else the shard index's ``total_size``.

    With an index, only the shards it names count (Mistral repositories also ship ``consolidated.safetensors``,
    the same weights in another layout); without one, every ``*.safetensors`` except ``consolidated*``.
    """
    index_file = directory / "model.safetensors.index.json"
    index = read_json(index_file, str(index_file)) if index_file.is_file() else None
    if index is not None:
        files = sorted({directory / name for name in (index.get("weight_map") or {}).values()})
    else:
        files = sorted(f for f in directory.glob("*.safetensors") if not f.name.startswith("consolidated"))
    if files and all(file.is_file() for file in files):
        counts: dict[str, int] = {}
        total = 0
        for file in files:
            for name, tensor in read_safetensors_header(file).items():
                if name == "__metadata__":
                    continue
                numel = 1
                for dim in tensor["shape"]:
                    numel *= int(dim)
                counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + numel
                start, end = tensor["data_offsets"]
                total += int(end) - int(start)
        return WeightsMetadata(total_bytes=total, parameters_by_dtype=counts, source="safetensors headers")
    size = (index or {}).get("metadata", {}).get("total_size")
    if size:
        return WeightsMetadata(total_bytes=int(size), source="safetensors index")
    return None


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file (8-byte little-endian length, then JSON): no tensor data is read."""
    with path.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        if not 0 < length < 100 * 2**20:
            raise ConfigError(f"{path}: not a safetensors file (header length {length})")
        header: dict[str, Any] = json.loads(handle.read(length))
    return header
