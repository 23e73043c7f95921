"""Secret shapes: the HuggingFace token secret (the workshop's ``hf-secret`` / ``hf_api_token``) and the
endpoint API-key secret.

Rendered without values by default, so anything written to disk or printed carries none. The Kubernetes target
fills values only in the object it sends to the API server (``render_secrets(config, values)``).

Every Secret inferctl creates carries the ownership label ``inferctl.io/created-by: <platform>``: ``up`` uses a
Secret of the same name without it as it is (a user's ``hf-secret`` is neither overwritten nor required to be
re-supplied through HF_TOKEN) and ``down`` deletes only Secrets with it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inferctl.config.models import PlatformConfig
from inferctl.kube_names import ANNOTATION_KEYS, ANNOTATION_PURPOSE, CREATED_BY
from inferctl.render.meta import Object, metadata, platform_labels


def secret_owner(obj: Mapping[str, Any]) -> str | None:
    """The platform that created this Secret (its ownership label), or None for a Secret inferctl did not create."""
    value = (obj.get("metadata", {}).get("labels") or {}).get(CREATED_BY)
    return str(value) if value else None


@dataclass(frozen=True)
class SecretValues:
    """Secret values to inject at apply time. ``None`` leaves that secret without data."""

    hf_token: str | None = None
    api_key: str | None = None

    def __repr__(self) -> str:  # never show values in logs or tracebacks
        return (
            f"SecretValues(hf_token={'<set>' if self.hf_token else None}, api_key={'<set>' if self.api_key else None})"
        )


def _coerce(values: SecretValues | Mapping[str, str | None] | None) -> SecretValues:
    if values is None:
        return SecretValues()
    if isinstance(values, SecretValues):
        return values
    unknown = set(values) - {"hf_token", "api_key"}
    if unknown:
        raise ValueError(f"unknown secret value keys {sorted(unknown)}; use 'hf_token' and 'api_key'")
    return SecretValues(hf_token=values.get("hf_token"), api_key=values.get("api_key"))


def _secret(config: PlatformConfig, name: str, key: str, value: str | None, purpose: str) -> Object:
    obj: Object = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(
            name,
            namespace=config.kubernetes.namespace,
            labels={**platform_labels(config), CREATED_BY: config.name},
            annotations={ANNOTATION_PURPOSE: purpose, ANNOTATION_KEYS: key},
        ),
        "type": "Opaque",
    }
    if value:
        # data, not stringData: server-side apply tracks data; stringData is write-only and always diffs.
        obj["data"] = {key: base64.b64encode(value.encode("utf-8")).decode("ascii")}
    return obj


def render_secrets(
    config: PlatformConfig, values: SecretValues | Mapping[str, str | None] | None = None
) -> list[Object]:
    """The HuggingFace token secret and (when the API key is enabled) the API-key secret.

    ``values`` None: shapes only, no ``data`` at all. A mapping may use the keys ``hf_token`` and ``api_key``.
    """
    given = _coerce(values)
    out = [
        _secret(
            config,
            config.secrets.hf_secret_name,
            config.secrets.hf_token_key,
            given.hf_token,
            "HuggingFace read token for gated models (HF_TOKEN)",
        )
    ]
    if config.endpoint.api_key.enabled:
        out.append(
            _secret(
                config,
                config.endpoint.api_key.secret_name,
                config.endpoint.api_key.secret_key,
                given.api_key,
                "API key clients send as 'Authorization: Bearer <key>' (VLLM_API_KEY)",
            )
        )
    return out
