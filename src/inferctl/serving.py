"""The serving policy every target follows: who may download a gated model, and which key the endpoint wants.

One function each, so the local, kubernetes and aws targets cannot disagree (they did: the local target accepted
``HUGGING_FACE_HUB_TOKEN`` and raised UserError, the cluster targets only ``HF_TOKEN`` and ConfigError).

Token variables: huggingface_hub 2.4 reads ``HF_TOKEN``, then ``HUGGING_FACE_HUB_TOKEN`` for backward compatibility
(huggingface/huggingface_hub, v2.4.0, ``src/huggingface_hub/utils/_auth.py``, ``_get_token_from_environment``), and
vLLM downloads through huggingface_hub, so both count.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from inferctl.errors import ConfigError

if TYPE_CHECKING:
    from inferctl.config.models import ModelDeployment, PlatformConfig
    from inferctl.home import Home

HF_TOKEN_ENVS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def hf_token_from_env() -> str | None:
    """The HuggingFace token of this shell, as huggingface_hub reads it; None when unset or empty."""
    for name in HF_TOKEN_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def check_gated_models(models: Iterable[ModelDeployment], token: str | None) -> None:
    """Raise ConfigError (exit 2, nothing created) naming the first gated model when there is no token for it."""
    if token is not None:
        return
    for model in models:
        if model.is_gated:
            raise ConfigError(
                f"model {model.name} ({model.source}) is gated and HF_TOKEN is not set; export HF_TOKEN=<a "
                f"HuggingFace read token> whose account accepted the licence at https://huggingface.co/{model.source}"
            )


def platform_api_key(config: PlatformConfig, home: Home, *, create: bool = True) -> str | None:
    """The key clients send to the platform's endpoint, or None when ``endpoint.api_key`` is off.

    ``create`` False: reads only (status, endpoints); None when no key was ever made."""
    if not config.endpoint.api_key.enabled:
        return None
    return home.api_key(config.name, create=create)
