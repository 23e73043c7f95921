"""Which endpoint to benchmark: any OpenAI-compatible URL, or the running platform's endpoint and key."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError, NotFoundError, OperationError, UserError
from inferctl.home import Home
from inferctl.targets.base import Endpoint


@dataclass(frozen=True)
class BenchEndpoint:
    endpoint: Endpoint
    deployment: ModelDeployment | None  # the config's model behind the endpoint; None for --url


def normalize_base_url(url: str) -> str:
    """``http://host:8000`` or ``.../v1/chat/completions`` -> ``http://host:8000/v1``."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"--url {url!r} is not an http(s) URL; write e.g. http://127.0.0.1:8000/v1")
    for suffix in ("/chat/completions", "/completions", "/models"):
        url = url.removesuffix(suffix)
    if "v1" not in urlsplit(url).path.split("/"):
        url += "/v1"
    return url


def discover_model(base_url: str, api_key: str | None, timeout_s: float = 10.0) -> str:
    """The model ``GET /models`` lists when it lists one (a single-model vLLM; a gateway with one model)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(f"{base_url}/models", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise NotFoundError(f"cannot reach {base_url}/models ({exc}); check --url or pass --model") from None
    if response.status_code == 401:
        raise UserError(f"{base_url} refused the API key (HTTP 401); pass the endpoint's key with --api-key")
    if response.status_code != 200:
        raise OperationError(f"{base_url}/models answered HTTP {response.status_code}; pass --model NAME")
    try:
        models = [str(m["id"]) for m in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise OperationError(f"{base_url}/models did not list models; pass --model NAME") from None
    if not models:
        raise NotFoundError(f"{base_url} serves no model; pass --model NAME")
    if len(models) > 1:  # a gateway in front of several models: which one to load is the user's choice
        raise UserError(f"{base_url} serves {', '.join(models)}; choose one with --model NAME")
    return models[0]


def from_url(url: str, api_key: str | None, model: str | None) -> BenchEndpoint:
    base = normalize_base_url(url)
    name = model or discover_model(base, api_key)
    return BenchEndpoint(Endpoint(model=name, base_url=base, api_key=api_key), None)


def from_platform(config: PlatformConfig, model: str | None, home: Home | None = None) -> BenchEndpoint:
    """The running platform's endpoint for ``model`` (a served or deployment name), else its first one."""
    from inferctl.targets import target_for

    endpoints = target_for(config, home).endpoints()
    if not endpoints:
        raise NotFoundError(f"no model is running on the {config.target} target; start one with 'inferctl up'")
    chosen = endpoints[0]
    if model is not None:
        wanted = {model}
        wanted.update(m.model_name for m in config.models if m.name == model)
        matches = [e for e in endpoints if e.model in wanted]
        if not matches:
            names = ", ".join(e.model for e in endpoints)
            raise NotFoundError(f"model {model!r} is not running on the {config.target} target; running: {names}")
        chosen = matches[0]
    deployment = next((m for m in config.models if chosen.model in {m.model_name, m.name}), None)
    return BenchEndpoint(chosen, deployment)
