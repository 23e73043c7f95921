"""What serving a model from the S3 cache asks of a plan, checked before anything is created: weights the cache can
serve.

The hub's listing of the repository (when the hub answered) goes through the mirror's own choice
(:func:`inferctl.cache.mirror.choose_weights`): a repository with PyTorch ``.bin`` weights only is refused here, with
the fix, instead of by the mirror Job on the cluster; of two layouts, the note says which one is mirrored.
"""

from __future__ import annotations

from inferctl.cache.location import uses_cache
from inferctl.cache.mirror import UnservableSnapshot, choose_weights
from inferctl.catalog.profile import ModelProfile
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError


def check_cached_model(config: PlatformConfig, model: ModelDeployment, profile: ModelProfile, index: int) -> list[str]:
    """Notes for the plan about a model served from the cache; ConfigError when the cache cannot serve it."""
    if not uses_cache(config, model):
        return []
    where = f"models[{index}] ({model.name})"
    notes: list[str] = []
    if profile.repo_files is not None:
        try:
            choice = choose_weights(profile.repo_files, lambda _name: None, what=f"{model.source}@{model.revision}")
        except UnservableSnapshot as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if choice.left_out:
            notes.append(f"{model.name}: the S3 cache mirrors {choice.note}; left out: {', '.join(choice.left_out)}")
    return notes
