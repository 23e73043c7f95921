"""Prompt sources: exact random-token prompts through a real (small, locally trained) tokenizer, approximate
ones without, JSONL datasets with their errors, the built-in conversations, and where tokenizers are found."""

from __future__ import annotations

import random
from itertools import islice
from pathlib import Path

import pytest

from inferctl.bench import (
    DatasetPrompts,
    LengthRange,
    RandomPrompts,
    SyntheticConversations,
    find_tokenizer,
    load_codec,
)
from inferctl.bench.prompts import _shuffled_cycle
from inferctl.errors import ConfigError, NotFoundError
from tests.support.bench import write_small_tokenizer


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_tokenizer(tmp_path_factory.mktemp("tok"))


def test_length_range_parses_numbers_and_ranges() -> None:
    assert LengthRange.parse("256", "--input-len") == LengthRange(256, 256)
    assert LengthRange.parse(" 64-128 ", "--input-len") == LengthRange(64, 128)
    assert str(LengthRange(64, 128)) == "64-128" and str(LengthRange(8, 8)) == "8"
    for bad in ("0", "12-3", "abc", "-5", "1.5"):
        with pytest.raises(ConfigError, match="--input-len"):
            LengthRange.parse(bad, "--input-len")


def test_random_prompts_have_exact_token_counts(tokenizer_dir: Path) -> None:
    codec = load_codec(tokenizer_dir)
    source = RandomPrompts(LengthRange(32, 96), LengthRange(16, 16), codec)
    assert source.exact_lengths and "exact" in source.description
    prompts = list(islice(source.prompts(seed=1), 30))
    for prompt in prompts:
        assert prompt.text is not None and prompt.input_len is not None
        assert 32 <= prompt.input_len <= 96
        assert len(codec.encode(prompt.text)) == prompt.input_len
        assert prompt.output_len == 16
    assert len({p.text for p in prompts}) == 30  # random, so no prefix-cache shortcuts


def test_special_tokens_count_toward_the_length(tmp_path: Path) -> None:
    codec = load_codec(write_small_tokenizer(tmp_path, bos=True))
    assert codec.special_tokens == 1
    prompt = next(RandomPrompts(LengthRange(40, 40), LengthRange(4, 4), codec).prompts(seed=0))
    assert prompt.input_len == 40  # what the server sees: 39 text tokens + BOS
    assert prompt.text is not None and len(codec.encode(prompt.text)) == 39


def test_random_prompts_are_deterministic_per_seed(tokenizer_dir: Path) -> None:
    source = RandomPrompts(LengthRange(20, 20), LengthRange(4, 8), load_codec(tokenizer_dir))
    first = list(islice(source.prompts(seed=5), 5))
    assert first == list(islice(source.prompts(seed=5), 5))
    assert first != list(islice(source.prompts(seed=6), 5))


def test_without_a_tokenizer_prompts_are_approximate_and_say_so() -> None:
    source = RandomPrompts(LengthRange(130, 130), LengthRange(4, 4), codec=None)
    prompt = next(source.prompts(seed=0))
    assert not source.exact_lengths and "approximate" in source.description
    assert prompt.input_len is None
    assert prompt.text is not None and len(prompt.text.split()) == 100  # 130 tokens / 1.3 tokens per word


def test_dataset_reads_prompts_messages_and_per_line_output(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"prompt": "one"}\n\n{"messages": [{"role": "user", "content": "two"}], "output_len": 9}\n',
        encoding="utf-8",
    )
    source = DatasetPrompts(path, LengthRange(5, 5))
    assert source.chat_only and "2 prompts" in source.description
    prompts = list(islice(source.prompts(seed=0), 4))  # cycles
    texts = sorted((p.text or "", p.output_len) for p in prompts)
    assert texts == [("", 9), ("", 9), ("one", 5), ("one", 5)]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json\n", r"d\.jsonl:1: not a JSON object"),
        ('{"prompt": "ok"}\n[1, 2]\n', r"d\.jsonl:2: each line must be an object"),
        ('{"text": "x"}\n', r"d\.jsonl:1: needs 'prompt'"),
        ('{"prompt": "x", "output_len": 0}\n', r"d\.jsonl:1: output_len"),
        ("\n\n", "has no prompts"),
    ],
)
def test_dataset_errors_name_the_line(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        DatasetPrompts(path, LengthRange(5, 5))


def test_missing_dataset_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="synthetic"):
        DatasetPrompts(tmp_path / "nope.jsonl", LengthRange(5, 5))


def test_synthetic_conversations_end_with_a_user_turn() -> None:
    source = SyntheticConversations(LengthRange(32, 32))
    assert source.chat_only
    prompts = list(islice(source.prompts(seed=0), len(source.conversations)))
    firsts = {p.messages[1]["content"] for p in prompts if p.messages}
    assert len(firsts) == len(source.conversations)  # every conversation, once per cycle
    for prompt in prompts:
        assert prompt.messages is not None
        assert prompt.messages[0]["role"] == "system" and prompt.messages[-1]["role"] == "user"


def test_shuffled_cycle_gives_every_item_once_per_pass_in_a_new_order() -> None:
    items = list(range(10))
    stream = list(islice(_shuffled_cycle(items, random.Random(3)), 30))
    passes = [stream[0:10], stream[10:20], stream[20:30]]
    assert all(sorted(one) == items for one in passes)
    assert len({tuple(one) for one in passes}) == 3
    assert stream == list(islice(_shuffled_cycle(items, random.Random(3)), 30))  # the seed decides
    assert items == list(range(10))  # the caller's list is left as it was


def test_find_tokenizer(tmp_path: Path, tokenizer_dir: Path) -> None:
    assert find_tokenizer(str(tokenizer_dir)) == tokenizer_dir
    assert find_tokenizer(None, model_source=str(tokenizer_dir)) == tokenizer_dir
    assert find_tokenizer(None) is None
    assert find_tokenizer(None, model_source="no-such-org/no-such-model") is None  # not cached: approximate
    with pytest.raises(NotFoundError, match="--tokenizer"):
        find_tokenizer(str(tmp_path / "missing"))
    with pytest.raises(NotFoundError, match=r"tokenizer\.json"):
        load_codec(tmp_path)


def test_an_unreadable_tokenizer_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text('{"not": "a tokenizer"', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"is not a tokenizers tokenizer\.json"):
        load_codec(tmp_path)


def test_a_binary_dataset_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        DatasetPrompts(path, LengthRange(5, 5))
