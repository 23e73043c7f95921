"""Helpers for the catalog, profile, sizing and plan tests.

- ``fixture_profile(name)``: the profile of a published config.json under ``tests/fixtures/models/``.
- ``FakeHub``: the HuggingFace hub behind huggingface_hub's own HTTP seam (``set_client_factory`` with a
  ``MockTransport`` of the HTTP library huggingface_hub uses, reached through its ``huggingface_hub.utils.httpx``
  alias). The hub cannot be reached from this machine, and the point of these tests is how inferctl reacts to
  what the hub answers (a config, a gated 401/403, no network), not the hub itself.
- ``shared_dir()``: ``<repo>/../shared`` or None.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from huggingface_hub.utils import httpx as hub_http  # huggingface_hub's own HTTP library (httpx2 in v2)

from inferctl.catalog.profile import ModelProfile
from inferctl.catalog.sources import profile_from_directory

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "models"

LLAMA_3_8B_INSTRUCT = "meta-llama--Meta-Llama-3-8B-Instruct"
LLAMA_3_8B = "meta-llama--Meta-Llama-3-8B"
LLAMA_3_70B = "meta-llama--Meta-Llama-3-70B"
MIXTRAL = "mistralai--Mixtral-8x7B-v0.1"
QWEN25_7B = "Qwen--Qwen2.5-7B"
QWEN3_8B = "Qwen--Qwen3-8B"
MISTRAL_7B = "mistralai--Mistral-7B-v0.1"
GEMMA2_9B = "google--gemma-2-9b"

# The default aws platform's hourly cost, us-east-1 (src/inferctl/catalog/aws_prices.py and the catalog snapshot),
# written out as arithmetic: EKS $0.10; one NAT gateway $0.045 + its Elastic IP $0.005; the system node group,
# instance_types auto = 2 x c6g.xlarge at $0.136 (Graviton: every system image, the gateway's included, is
# published for arm64); one internal NLB $0.0225 (the gateway's, whatever the models); two 50 GiB gp3 root volumes
# at $0.08/GB-month over AWS's 730-hour month.
SYSTEM_NODES_USD = 2 * 0.136
ALWAYS_ON_USD = 0.10 + 0.045 + 0.005 + SYSTEM_NODES_USD + 0.0225 + 2 * 50 * 0.08 / 730
# One GPU node's data volume (render/karpenter.py): 200 GiB gp3 with 6,000 IOPS and, for the default parallel image
# pull, 1,000 MiB/s (3,000 and 875 over the free baseline, at $0.005 and $0.04 a month each) plus Bottlerocket's
# 4 GiB OS volume.
GPU_NODE_VOLUME_USD = (200 * 0.08 + 3000 * 0.005 + 875 * 0.04 + 4 * 0.08) / 730


def fixture_dir(name: str) -> Path:
    return FIXTURES / name


def fixture_config(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "config.json").read_text(encoding="utf-8"))
    return data


def fixture_profile(name: str) -> ModelProfile:
    return profile_from_directory(FIXTURES / name)


def shared_dir() -> Path | None:
    path = (REPO / ".." / "shared").resolve()
    return path if path.is_dir() else None


Handler = Callable[[hub_http.Request], hub_http.Response]


class FakeHub:
    """Answers huggingface_hub's requests: serves ``configs`` by repo id, refuses ``gated`` repos with the status
    the hub uses, and raises a connection error for everything when ``offline``."""

    def __init__(
        self,
        configs: dict[str, dict[str, Any]] | None = None,
        *,
        safetensors: dict[str, dict[str, Any]] | None = None,
        gated: dict[str, int] | None = None,
        offline: bool = False,
        files: dict[str, list[str]] | None = None,
    ) -> None:
        self.configs = configs or {}
        self.safetensors = safetensors or {}  # repo -> the header of its single model.safetensors
        self.files = files or {}  # repo -> the paths its tree listing shows (api/models/<repo>/tree/<revision>)
        self.gated = gated or {}
        self.offline = offline
        self.requests: list[hub_http.Request] = []

    def __call__(self, request: hub_http.Request) -> hub_http.Response:
        self.requests.append(request)
        if self.offline:
            raise hub_http.ConnectError("[Errno -2] Name or service not known", request=request)
        path = request.url.path
        if path in ("", "/"):
            return hub_http.Response(200, request=request)
        for repo, status in self.gated.items():
            if path.startswith(f"/{repo}/") or path.startswith(f"/api/models/{repo}"):
                message = f"Access to model {repo} is restricted. You must have access to it and be authenticated."
                return hub_http.Response(
                    status, headers={"X-Error-Code": "GatedRepo", "X-Error-Message": message}, request=request
                )
        for repo, names in self.files.items():
            if path.startswith(f"/api/models/{repo}/tree/"):
                tree = [{"type": "file", "path": name, "size": 1, "oid": "0" * 40} for name in names]
                return hub_http.Response(200, json=tree, request=request)
        for repo, config in self.configs.items():
            files = {"config.json": json.dumps(config).encode()}
            if repo in self.safetensors:
                header = json.dumps(self.safetensors[repo]).encode()
                files["model.safetensors"] = len(header).to_bytes(8, "little") + header
            for name, body in files.items():
                if path.startswith(f"/{repo}/resolve/") and path.endswith(f"/{name}"):  # any revision
                    return _file_response(request, body)
            if path.startswith(f"/{repo}/"):
                return hub_http.Response(404, headers={"X-Error-Code": "EntryNotFound"}, request=request)
        # The hub answers 401 RepoNotFound for repositories it does not show to this caller.
        return hub_http.Response(401, headers={"X-Error-Code": "RepoNotFound"}, request=request)


def _file_response(request: hub_http.Request, body: bytes) -> hub_http.Response:
    headers = {
        "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
        "X-Repo-Commit": "0123456789abcdef0123456789abcdef01234567",
        "Content-Length": str(len(body)),
    }
    return hub_http.Response(200, headers=headers, content=b"" if request.method == "HEAD" else body, request=request)


@contextmanager
def fake_hub(hub: FakeHub, cache_dir: Path) -> Iterator[FakeHub]:
    """Route huggingface_hub through ``hub`` with its cache in ``cache_dir``; restore both afterwards."""
    from huggingface_hub import constants, set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    saved_cache = constants.HF_HUB_CACHE
    constants.HF_HUB_CACHE = str(cache_dir)
    set_client_factory(lambda: hub_http.Client(transport=hub_http.MockTransport(hub), follow_redirects=True))
    try:
        yield hub
    finally:
        set_client_factory(default_client_factory)
        constants.HF_HUB_CACHE = saved_cache
