"""Model profiles of HuggingFace ids: ``config.json`` through huggingface_hub, with packaged snapshots offline.

Order: the hub (``HF_TOKEN`` for gated repos; the local HF cache when ``HF_HUB_OFFLINE`` is set), then, when the hub
cannot be reached, the packaged snapshot of a few well-known configs (``data/model_configs.json``), then one line
that says to pass a local directory. A quick probe decides "unreachable" so that an offline ``inferctl plan`` does
not sit through huggingface_hub's retries.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from inferctl.catalog.files import read_json
from inferctl.catalog.profile import DTYPE_BYTES, ModelProfile, WeightsMetadata, profile_from_config
from inferctl.errors import NotFoundError, OperationError, UserError

PROBE_TIMEOUT_S = 3.0


@cache
def packaged_configs() -> dict[str, dict[str, Any]]:
    """Packaged config.json snapshots by HF id (see the file's ``_source``)."""
    text = resources.files("inferctl.catalog").joinpath("data/model_configs.json").read_text(encoding="utf-8")
    models: dict[str, dict[str, Any]] = json.loads(text)["models"]
    return models


def packaged_config(repo_id: str) -> dict[str, Any] | None:
    wanted = repo_id.lower()
    for name, config in packaged_configs().items():
        if name.lower() == wanted:
            return config
    return None


def hub_profile(repo_id: str, *, revision: str | None = None, token: str | None = None) -> ModelProfile:
    """Profile of a hub model; exact parameter counts from its safetensors headers when the hub answers."""
    from huggingface_hub import constants

    token = token or os.environ.get("HF_TOKEN") or None
    offline = bool(constants.HF_HUB_OFFLINE)
    if not offline and not hub_reachable():
        return _snapshot_or_fail(repo_id, revision, "the HuggingFace hub cannot be reached")
    path = _download_config(repo_id, revision, token, offline)
    if path is None:
        why = "it is not in the local HuggingFace cache (HF_HUB_OFFLINE)" if offline else "the hub did not answer"
        return _snapshot_or_fail(repo_id, revision, why)
    config = read_json(Path(path), f"{repo_id}/config.json")
    weights = None if offline else _hub_weights(repo_id, revision, token)
    profile = profile_from_config(config, source=repo_id, origin="huggingface hub", weights=weights)
    return profile if offline else replace(profile, repo_files=_hub_files(repo_id, revision, token))


def hub_reachable() -> bool:
    """One short request to the hub's endpoint through huggingface_hub's own HTTP session (no retries)."""
    from huggingface_hub import constants, get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=PROBE_TIMEOUT_S, follow_redirects=False)
    except (hub_http_error(), OSError):
        return False
    return True


def hub_http_error() -> type[Exception]:
    """The transport error of huggingface_hub's HTTP client, through the alias huggingface_hub keeps stable across
    its HTTP stacks (``huggingface_hub.utils.httpx``: httpx in v1, httpx2 since v2). inferctl declares neither
    library, so it imports neither by name."""
    from huggingface_hub.utils import httpx  # type: ignore[attr-defined]  # set in __getattr__, listed in __all__

    error: type[Exception] = httpx.HTTPError
    return error


def _download_config(repo_id: str, revision: str | None, token: str | None, offline: bool) -> str | None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    page = f"https://huggingface.co/{repo_id}"
    try:
        path = hf_hub_download(repo_id, "config.json", revision=revision, token=token, local_files_only=offline)
    except GatedRepoError:
        who = "your HF_TOKEN has no access" if token else "no HF_TOKEN is set"
        raise UserError(
            f"{repo_id} is gated and {who}: accept the licence at {page} and export HF_TOKEN=<a read token>"
        ) from None
    except RepositoryNotFoundError:
        hint = "" if token else "; if it is private or gated, export HF_TOKEN"
        raise NotFoundError(f"no model {repo_id!r} on the HuggingFace hub: check the id{hint}") from None
    except RevisionNotFoundError:
        raise NotFoundError(f"{repo_id} has no revision {revision!r}; fix models[].revision") from None
    except LocalEntryNotFoundError:
        return None  # not cached and the hub did not answer (or HF_HUB_OFFLINE)
    except EntryNotFoundError:
        raise NotFoundError(f"{repo_id} has no config.json; is it a transformers model repository?") from None
    except HFValidationError:
        raise NotFoundError(
            f"{repo_id!r} is neither a local directory nor a HuggingFace id (org/name); fix the model source"
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise OperationError(f"the HuggingFace hub answered {status} for {repo_id}/config.json; retry later") from None
    return str(path)


def _hub_weights(repo_id: str, revision: str | None, token: str | None) -> WeightsMetadata | None:
    """Exact parameter counts from the safetensors headers on the hub (range requests; no weights downloaded)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, NotASafetensorsRepoError, SafetensorsParsingError

    try:
        metadata = HfApi(token=token).get_safetensors_metadata(repo_id, revision=revision)
    except (HfHubHTTPError, NotASafetensorsRepoError, SafetensorsParsingError, hub_http_error(), OSError):
        return None
    counts = {str(dtype): int(count) for dtype, count in metadata.parameter_count.items()}
    total = sum(int(count * DTYPE_BYTES.get(dtype, 2)) for dtype, count in counts.items())
    return WeightsMetadata(total_bytes=total, parameters_by_dtype=counts, source="safetensors headers")


def _hub_files(repo_id: str, revision: str | None, token: str | None) -> tuple[str, ...] | None:
    """The repository's top-level file names at ``revision`` (one listing request), None when the hub did not
    answer with them."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    try:
        names = HfApi(token=token).list_repo_files(repo_id, revision=revision)
    except (HfHubHTTPError, hub_http_error(), OSError):
        return None
    return tuple(sorted(name for name in names if "/" not in name))


def _snapshot_or_fail(repo_id: str, revision: str | None, why: str) -> ModelProfile:
    config = packaged_config(repo_id)
    if config is None:
        raise OperationError(
            f"cannot read {repo_id}'s config.json: {why}; pass a local model directory instead (--model ./path)"
        )
    note = f"{why}: sizing used inferctl's packaged snapshot of {repo_id}'s config.json"
    if revision:
        note += f" (the snapshot is of the main branch, not revision {revision})"
    profile = profile_from_config(dict(config), source=repo_id, origin="packaged snapshot")
    return replace(profile, notes=(*profile.notes, note))
