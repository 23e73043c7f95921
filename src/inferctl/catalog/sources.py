"""Where a model profile comes from: ``demo``, a local directory (plus exact sizes from its safetensors headers or
index when present), or a HuggingFace id (:mod:`inferctl.catalog.hub`)."""

from __future__ import annotations

from pathlib import Path

from inferctl.catalog.files import read_json, safetensors_metadata
from inferctl.catalog.profile import ModelProfile, profile_from_config
from inferctl.demo_model import DEMO_SOURCE
from inferctl.errors import NotFoundError


def load_profile(source: str, *, revision: str | None = None, token: str | None = None) -> ModelProfile:
    """The profile of ``source``: ``demo``, a local directory with config.json, or a HuggingFace id."""
    if source == DEMO_SOURCE:
        from inferctl.demo_model import DEMO_MODEL_CONFIG

        return profile_from_config(dict(DEMO_MODEL_CONFIG), source=source, origin="demo")
    path = Path(source).expanduser()
    if source.startswith(("/", ".", "~")) or path.exists():
        return profile_from_directory(path, source=source)
    from inferctl.catalog.hub import hub_profile

    return hub_profile(source, revision=revision, token=token)


def profile_from_directory(path: Path, *, source: str | None = None) -> ModelProfile:
    """Profile of a local model directory: config.json, plus exact sizes from its safetensors files or index."""
    label = source or str(path)
    config_file = path / "config.json" if path.is_dir() else path
    if not config_file.is_file():
        raise NotFoundError(f"{label}: no config.json there; pass a model directory (with config.json) or a HF id")
    config = read_json(config_file, label)
    weights = safetensors_metadata(config_file.parent)
    return profile_from_config(config, source=label, origin="local directory", weights=weights)
