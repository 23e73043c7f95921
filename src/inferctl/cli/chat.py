"""chat: stream a chat completion from the platform's endpoint through the OpenAI SDK."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from inferctl.cli.common import ConfigOpt, ModelOpt, TargetOpt, demo_notice, err_console, load
from inferctl.cli.running import follow_running, notice_for_running
from inferctl.errors import NotFoundError, OperationError, UserError
from inferctl.targets import PortForwardCapability, target_for, targets_with

if TYPE_CHECKING:
    from openai import OpenAI

    from inferctl.config.models import PlatformConfig
    from inferctl.targets.base import Endpoint

CONNECT_TIMEOUT_S = 30.0


def chat(
    prompt: Annotated[str | None, typer.Argument(help="One prompt; without it, an interactive chat.")] = None,
    config: ConfigOpt = None,
    target: TargetOpt = None,
    model: ModelOpt = None,
    system: Annotated[str | None, typer.Option("--system", help="A system message.")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Most tokens per reply.", min=1)] = 256,
    temperature: Annotated[
        float | None,
        typer.Option("--temperature", help="Sampling temperature; default: the server's (the model's own).", min=0.0),
    ] = None,
    port_forward: Annotated[
        bool, typer.Option("--port-forward", help="Reach a cluster model through kubectl port-forward.")
    ] = False,
) -> None:
    """Chat with a served model, streaming tokens as they come."""
    cfg = load(config, target=target, model=model)
    platform = target_for(cfg)
    if not port_forward:
        # Local: the running model --model names (the only one without it), whatever the config says. Elsewhere
        # the first model's: --model narrowed cfg.models to that deployment.
        served = follow_running(platform, model)
        endpoint = served.endpoint if served is not None else platform.endpoints()[0]
        notice_for_running(cfg, served)
        _chat(endpoint, prompt, system, max_tokens, temperature, _timeout_s(cfg))
        return
    if not isinstance(platform, PortForwardCapability):
        supported = ", ".join(targets_with(PortForwardCapability))
        raise UserError(f"--port-forward works on targets {supported}; target {cfg.target} is reached directly")
    with platform.port_forward(model) as endpoint:
        demo_notice(cfg.models)
        _chat(endpoint, prompt, system, max_tokens, temperature, _timeout_s(cfg))


def _timeout_s(cfg: PlatformConfig) -> float:
    """Longer than any hop of the request path waits (a wake from zero, a long first token): the chain's."""
    from inferctl.sizing.request_timeouts import client_timeouts

    return float(client_timeouts(cfg, cfg.models[0]).client_s)


def _chat(
    endpoint: Endpoint,
    prompt: str | None,
    system: str | None,
    max_tokens: int,
    temperature: float | None,
    timeout_s: float,
) -> None:
    from openai import OpenAI, Timeout

    client = OpenAI(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key or "unused",
        max_retries=0,
        timeout=Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
    )
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    if prompt is not None:
        history.append({"role": "user", "content": prompt})
        _stream_reply(client, endpoint.model, history, max_tokens, temperature)
        return
    err_console.print(f"[dim]chatting with {endpoint.model} at {endpoint.base_url}; Ctrl-D or /exit to leave[/dim]")
    while True:
        try:
            line = input("> ")
        except (EOFError, KeyboardInterrupt):
            sys.stdout.write("\n")
            return
        if line.strip() in {"/exit", "/quit"}:
            return
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        reply = _stream_reply(client, endpoint.model, history, max_tokens, temperature)
        history.append({"role": "assistant", "content": reply})


def _stream_reply(
    client: OpenAI, model: str, messages: list[dict[str, str]], max_tokens: int, temperature: float | None
) -> str:
    import openai

    start = time.monotonic()
    first: float | None = None
    parts: list[str] = []
    usage: Any = None
    try:
        stream = client.chat.completions.create(
            model=model,
            messages=cast("Any", messages),
            max_tokens=max_tokens,
            # None: not sent, so the server's default sampling applies (the model's generation config).
            temperature=openai.omit if temperature is None else temperature,
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                text = choice.delta.content or ""
                if text:
                    first = first or time.monotonic()
                    parts.append(text)
                    sys.stdout.write(text)
                    sys.stdout.flush()
    except openai.AuthenticationError:
        raise UserError("the endpoint refused the API key; check it with 'inferctl endpoint --show-key'") from None
    except openai.NotFoundError as exc:
        raise NotFoundError(
            f"the endpoint does not serve model {model!r}{_served_names(client)} ({exc.message})"
        ) from None
    except openai.APIConnectionError:
        raise NotFoundError(
            f"cannot reach {client.base_url}; is the platform running? check 'inferctl status'"
        ) from None
    except openai.APIStatusError as exc:
        raise OperationError(f"the server answered {exc.status_code}: {exc.message}") from None
    sys.stdout.write("\n")
    elapsed = time.monotonic() - start
    tokens = usage.completion_tokens if usage is not None else len(parts)
    ttft = f"first token {1000 * (first - start):.0f} ms, " if first else ""
    err_console.print(f"[dim]{tokens} tokens, {ttft}{tokens / elapsed:.1f} tok/s[/dim]")
    return "".join(parts)


def _served_names(client: OpenAI) -> str:
    """``; it serves a, b``: what ``/v1/models`` lists. A model gateway's 404 (smg 1.13.0: ``model_not_found``, "No
    worker available for model 'x'") names the model asked for, not the ones it serves."""
    import openai

    try:
        names = sorted(m.id for m in client.models.list())
    except openai.OpenAIError:
        return ""
    return f"; it serves {', '.join(names)}" if names else ""


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Use")(chat)
