"""Read vLLM's server log: which start-up phase it is in, and why it died.

Pure functions over log lines, so the rules are unit-tested without starting a server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# (phase, substrings that announce it), in start-up order. The last match seen wins.
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("resolving model", ("non-default args", "Resolved architecture")),
    ("starting engine", ("Initializing a V1 LLM engine",)),
    ("loading weights", ("Starting to load model", "Loading safetensors", "Loading weights took")),
    ("allocating KV cache", ("KV cache size", "Available KV cache memory", "for KV cache")),
    ("warming up", ("init engine (profile, create kv cache, warmup model)", "Capturing CUDA graph")),
    ("starting API server", ("Starting vLLM server on", "Available routes are")),
)

_NOISE = (
    "WARNING",
    "DeprecationWarning",
    "FutureWarning",
    "UserWarning",
    "warnings.warn",
    "nanobind",
    "leaked ",
    "resource_tracker",
    "Triton is installed",
    "For further information visit",
    "Route: ",
    "█",
    "▀",
)
_EXCEPTION_LINE = re.compile(r"^(?:\(\w+ pid=\d+\)\s+)?(?:[\w.]+\.)?(\w*(?:Error|Exception|Exit))(?::\s*(.*))?$")
_LOG_PREFIX = re.compile(r"^\((\w+) pid=\d+\)\s+(?:(?:INFO|ERROR|DEBUG|CRITICAL)\s+\S+\s+\S+\s+\[[^\]]+\]\s*)?")

_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("max_model_len", "max-model-len"),
        "lower models[].engine.max_model_len to at most the model's limit (or leave it unset)",
    ),
    (
        ("gated repo", "401 Client Error", "403 Client Error", "Access to model", "is restricted"),
        "accept the model's licence on its HuggingFace page and export HF_TOKEN with read access",
    ),
    (
        ("KV cache", "out of memory", "Cannot allocate memory", "OutOfMemory"),
        "raise local.kv_cache_gib, or lower models[].engine.max_model_len / max_num_seqs",
    ),
    (("Address already in use",), "another process took the port; pick another with --port or local.port"),
    (
        (
            "config.json",
            "No such file",
            "not a valid model",
            "Repository Not Found",
            "does not appear to have",
        ),
        "check models[].source: a HuggingFace id (org/name) or a directory containing config.json",
    ),
    (
        ("LocalEntryNotFoundError", "offline mode", "Cannot connect", "ConnectionError"),
        "the model is not cached and the hub cannot be reached; use a local directory as models[].source",
    ),
)


def phase_of(lines: Iterable[str], current: str) -> str:
    """The latest phase announced in ``lines``, or ``current`` if none is."""
    phase = current
    order = [name for name, _ in PHASES]
    for line in lines:
        for name, markers in PHASES:
            if any(marker in line for marker in markers) and order.index(name) >= _index(order, phase):
                phase = name
    return phase


def _index(order: list[str], phase: str) -> int:
    return order.index(phase) if phase in order else -1


def clean(line: str) -> str:
    """A log line without vLLM's ``(APIServer pid=1) INFO 11-27 09:17:32 [file.py:1]`` prefix."""
    return _LOG_PREFIX.sub("", line.rstrip())


def meaningful_lines(lines: list[str], limit: int = 8) -> list[str]:
    """The last ``limit`` lines that say something (no warnings, banners or shutdown noise)."""
    keep: list[str] = []
    after_frame = False
    for raw in lines:
        line = clean(raw)
        stripped = line.strip()
        in_frame, after_frame = after_frame, stripped.startswith("File ")
        if (
            not stripped
            or any(noise in raw for noise in _NOISE)
            or line.startswith(("INFO:", "[W", "Traceback"))
            or after_frame
            or in_frame  # the source line a traceback frame quotes
            or set(stripped) <= set("^~ ")
        ):
            continue
        keep.append(_shorten(line.rstrip(), 200))
    return keep[-limit:]


def failure_reason(lines: list[str]) -> str | None:
    """vLLM's own reason for dying: the last exception line (pydantic's message line when it is one)."""
    for index in range(len(lines) - 1, -1, -1):
        text = clean(lines[index]).strip()
        match = _EXCEPTION_LINE.match(text)
        if not match or text.startswith(("Traceback", "File ")):
            continue
        name, message = match.group(1), (match.group(2) or "").strip()
        if name == "ValidationError":
            for follow in lines[index + 1 : index + 6]:
                follow_text = clean(follow).strip()
                if follow_text.startswith("Value error,"):
                    return _shorten(follow_text.removeprefix("Value error,").strip())
        if name in {"SystemExit", "KeyboardInterrupt"} and not message:
            continue
        return _shorten(f"{name}: {message}" if message else name)
    return None


def hint_for(reason: str, context: str = "") -> str:
    """The fix for ``reason``; only when the reason names none, the fix the log's ``context`` suggests.

    The reason goes first because an ordinary start log mentions max_model_len, KV cache and config.json too.
    """
    for text in (reason, context):
        for needles, hint in _HINTS:
            if any(needle in text for needle in needles):
                return hint
    return "see the whole log with 'inferctl logs'"


def _shorten(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    # vLLM's long explanations go on with advice for other setups; the first sentences carry the reason.
    sentences = re.split(r"(?<=[.)])\s+(?=[A-Z])", text)
    out = sentences[0]
    for sentence in sentences[1:]:
        if len(out) + len(sentence) + 1 > limit:
            break
        out += " " + sentence
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"
