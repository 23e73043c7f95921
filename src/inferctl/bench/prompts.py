"""Where benchmark prompts come from: random tokens of chosen lengths, a JSONL file, or the built-in
synthetic conversations. Every source is deterministic for a seed and endless (it cycles).

Random prompts are exact when the model's tokenizer is at hand (``tokenizer.json`` in a local model directory,
the demo model, or the HuggingFace cache): random token ids are decoded to text and re-encoded until the
server will see exactly ``input_len`` prompt tokens, special tokens included (as ``vllm bench serve`` counts
them). Without a tokenizer the prompts are words sized by a rule of thumb, and the report says so.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from inferctl.bench.client import Prompt
from inferctl.bench.conversations import conversation_messages
from inferctl.errors import ConfigError, MissingDependencyError, NotFoundError

if TYPE_CHECKING:
    from inferctl.config.models import ModelDeployment
    from inferctl.home import Home

SYNTHETIC = "synthetic"
TOKENS_PER_WORD = 1.3  # rule of thumb for BPE tokenizers on English words (approximate prompts only)
_WORD_TEXT = (
    "time person year way day thing man world life hand part child eye woman place work week case point "
    "number group problem fact cloud river stone light music paper table window garden market engine "
    "signal model server token memory system network station letter summer winter yellow purple quiet "
    "simple strong early later under over above below between across "
)
_WORDS = _WORD_TEXT.split()

T = TypeVar("T")


@dataclass(frozen=True)
class LengthRange:
    """A token length: fixed (``"256"``) or drawn uniformly from an inclusive range (``"128-512"``)."""

    low: int
    high: int

    @classmethod
    def parse(cls, text: str | int, flag: str) -> LengthRange:
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(text))
        if not match:
            raise ConfigError(f"{flag} {text!r} is not a length; write a number (256) or a range (128-512)")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if low < 1 or high < low:
            raise ConfigError(f"{flag} {text!r} must be at least 1, and a range must be LOW-HIGH with LOW <= HIGH")
        return cls(low, high)

    def sample(self, rng: random.Random) -> int:
        return self.low if self.low == self.high else rng.randint(self.low, self.high)

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


class TokenCodec:
    """A HuggingFace ``tokenizers`` tokenizer, reduced to what prompt building needs."""

    def __init__(self, tokenizer: Any, source: str) -> None:
        self._tok = tokenizer
        self.source = source
        self.special_tokens = len(tokenizer.encode("", add_special_tokens=True).ids)
        special = {i for i, tok in tokenizer.get_added_tokens_decoder().items() if tok.special}
        ids = [i for i in range(tokenizer.get_vocab_size(with_added_tokens=True)) if i not in special]
        # Sample only tokens that stand alone as text: no partial UTF-8 bytes, and they re-encode to themselves.
        # Random byte fragments decode to U+FFFD, which re-encodes to several tokens and defeats exact lengths.
        pieces = tokenizer.decode_batch([[i] for i in ids], skip_special_tokens=False)
        encoded = tokenizer.encode_batch(pieces, add_special_tokens=False)
        clean = [
            i for i, piece, enc in zip(ids, pieces, encoded, strict=True) if "\ufffd" not in piece and enc.ids == [i]
        ]
        self.normal_ids = clean or ids

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: list[int]) -> str:
        return str(self._tok.decode(ids, skip_special_tokens=False))


def load_codec(location: Path) -> TokenCodec:
    """The tokenizer in ``location`` (a model directory with ``tokenizer.json``, or that file)."""
    path = location / "tokenizer.json" if location.is_dir() else location
    if not path.is_file():
        raise NotFoundError(f"no tokenizer.json at {location}; pass --tokenizer DIR of a model that has one")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingDependencyError(
            "exact prompt lengths need the 'tokenizers' package: pip install tokenizers (or drop --tokenizer)"
        ) from None
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for a file it cannot parse
        reason = f"{path} is not a tokenizers tokenizer.json ({exc}); pass --tokenizer DIR of a model"
        raise ConfigError(reason) from None
    return TokenCodec(tokenizer, str(location))


class PromptSource(Protocol):
    description: str
    exact_lengths: bool  # the prompt token counts are known exactly before sending
    chat_only: bool  # carries chat messages: the completions API cannot send it

    def prompts(self, seed: int) -> Iterator[Prompt]: ...


class RandomPrompts:
    """Prompts of random tokens with lengths drawn from ``input_len``; outputs of ``output_len`` tokens."""

    chat_only = False

    def __init__(self, input_len: LengthRange, output_len: LengthRange, codec: TokenCodec | None) -> None:
        self.input_len = input_len
        self.output_len = output_len
        self.codec = codec
        self.exact_lengths = codec is not None
        how = (
            f"exact, tokenizer {codec.source}"
            if codec
            else f"approximate: no tokenizer, ~{TOKENS_PER_WORD} tokens/word"
        )
        self.description = f"random tokens, input {input_len} ({how}), output {output_len}"

    def prompts(self, seed: int) -> Iterator[Prompt]:
        rng = random.Random(seed)
        while True:
            target = self.input_len.sample(rng)
            out_len = self.output_len.sample(rng)
            if self.codec is None:
                words = max(1, round(target / TOKENS_PER_WORD))
                yield Prompt(" ".join(rng.choice(_WORDS) for _ in range(words)), out_len, input_len=None)
            else:
                text, length = _exact_text(self.codec, rng, target)
                yield Prompt(text, out_len, input_len=length)


def _exact_text(codec: TokenCodec, rng: random.Random, total_tokens: int) -> tuple[str, int]:
    """Text that encodes to ``total_tokens`` tokens, special tokens included (or the closest length found)."""
    target = max(1, total_tokens - codec.special_tokens)
    ids = [rng.choice(codec.normal_ids) for _ in range(target)]
    for _ in range(10):
        text = codec.decode(ids)
        encoded = codec.encode(text)
        if len(encoded) == target:
            return text, target + codec.special_tokens
        # Decoding then re-encoding merges or splits tokens; trim or top up and try again (as vLLM does).
        extra = [rng.choice(codec.normal_ids) for _ in range(target - len(encoded))]
        ids = encoded[:target] + extra
    text, got = _grow_text(codec, rng, target)
    return text, got + codec.special_tokens


def _grow_text(codec: TokenCodec, rng: random.Random, target: int) -> tuple[str, int]:
    """Slow but sure: append token texts while the encoded length stays within ``target``."""
    text, got = "", 0
    for _ in range(target * 20):
        if got == target:
            break
        candidate = text + codec.decode([rng.choice(codec.normal_ids)])
        length = len(codec.encode(candidate))
        if length <= target:
            text, got = candidate, length
    return text, got


class DatasetPrompts:
    """A JSONL file: one object per line with ``prompt`` (text) or ``messages`` (chat), optionally
    ``output_len`` (or ``max_tokens``) to override the output length."""

    exact_lengths = False

    def __init__(self, path: Path, output_len: LengthRange) -> None:
        self.path = path
        self.output_len = output_len
        self.rows = _read_jsonl(path)
        self.chat_only = any(messages is not None for _, messages, _ in self.rows)
        self.description = f"{path.name} ({len(self.rows)} prompts), output {output_len} unless a line sets it"

    def prompts(self, seed: int) -> Iterator[Prompt]:
        rng = random.Random(seed)
        for text, messages, out in _shuffled_cycle(self.rows, rng):
            yield Prompt(text, out or self.output_len.sample(rng), messages=messages)


def _read_jsonl(path: Path) -> list[tuple[str | None, tuple[dict[str, Any], ...] | None, int | None]]:
    if not path.is_file():
        raise NotFoundError(f"dataset {path} does not exist; pass a JSONL file or --dataset {SYNTHETIC}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"dataset {path} is not UTF-8 text; write one JSON object per line") from None
    rows: list[tuple[str | None, tuple[dict[str, Any], ...] | None, int | None]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except ValueError:
            raise ConfigError(f'{where}: not a JSON object; each line must be {{"prompt": "..."}}') from None
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: each line must be an object with 'prompt' or 'messages'")
        out = item.get("output_len", item.get("max_tokens"))
        if out is not None and (not isinstance(out, int) or out < 1):
            raise ConfigError(f"{where}: output_len must be a positive integer")
        prompt, messages = item.get("prompt"), item.get("messages")
        if isinstance(prompt, str) and prompt:
            rows.append((prompt, None, out))
        elif _is_messages(messages):
            rows.append((None, tuple(messages or ()), out))
        else:
            raise ConfigError(
                f"{where}: needs 'prompt' (a non-empty string) or 'messages' (a list of {{role, content}})"
            )
    if not rows:
        raise ConfigError(f"dataset {path} has no prompts; write one JSON object per line")
    return rows


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in value)
    )


class SyntheticConversations:
    """The built-in multi-turn chats (``--dataset synthetic``); chat API only."""

    exact_lengths = False
    chat_only = True

    def __init__(self, output_len: LengthRange) -> None:
        self.output_len = output_len
        self.conversations = conversation_messages()
        self.description = f"built-in synthetic conversations ({len(self.conversations)}), output {output_len}"

    def prompts(self, seed: int) -> Iterator[Prompt]:
        rng = random.Random(seed)
        for conversation in _shuffled_cycle(self.conversations, rng):
            yield Prompt(None, self.output_len.sample(rng), messages=tuple(conversation))


def _shuffled_cycle(items: Sequence[T], rng: random.Random) -> Iterator[T]:
    """``items`` without end: every item once per pass, each pass in a new order drawn from ``rng``."""
    order = list(items)
    while True:
        rng.shuffle(order)
        yield from order


def find_tokenizer(
    explicit: str | None, *, model_source: str | None = None, revision: str | None = None
) -> Path | None:
    """Where the tokenizer is: ``explicit`` (a path or a cached HF id) or the served model's source.

    Returns None when none is on this machine (the caller falls back to approximate prompts). Never downloads.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if path.exists():
            return path
        cached = _hf_cached_tokenizer(explicit, revision)
        if cached is None:
            raise NotFoundError(
                f"--tokenizer {explicit}: no such path, and no cached tokenizer.json for that HuggingFace id"
            )
        return cached
    if not model_source:
        return None
    path = Path(model_source).expanduser()
    if path.is_dir():
        return path
    return _hf_cached_tokenizer(model_source, revision)


def tokenizer_for(deployment: ModelDeployment | None, home: Home, explicit: str | None = None) -> Path | None:
    """The tokenizer for prompts of exact lengths to a configured model: ``explicit`` (``--tokenizer``), else the
    demo model's directory (built on this machine), else the model's source on this machine (a directory or the
    hub cache). None: prompts of approximate lengths."""
    if explicit is None and deployment is not None and deployment.is_demo:
        try:
            from inferctl.demo_model import ensure_demo_model
        except ImportError:  # the demo model needs the local extra (safetensors, tokenizers)
            return None
        return ensure_demo_model(home)
    source = deployment.source if deployment is not None else None
    revision = deployment.revision if deployment is not None else None
    return find_tokenizer(explicit, model_source=source, revision=revision)


def _hf_cached_tokenizer(repo_id: str, revision: str | None) -> Path | None:
    if repo_id.count("/") != 1:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo_id, "tokenizer.json", revision=revision)
    return Path(found) if isinstance(found, str) else None
