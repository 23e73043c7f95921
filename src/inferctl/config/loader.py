"""Load ``inferctl.yaml`` into :class:`PlatformConfig`, with errors that name the YAML path, line and fix."""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from inferctl.config.models import (
    PATTERN_HINTS,
    ModelDeployment,
    PlatformConfig,
    model_name_from_source,
)
from inferctl.demo_model import DEMO_SOURCE
from inferctl.errors import ConfigError, NotFoundError
from inferctl.traits import TARGETS

DEFAULT_CONFIG_FILE = "inferctl.yaml"


def load_config(path: Path | None = None) -> tuple[PlatformConfig, Path | None]:
    """Load the config file, or the defaults when there is none.

    ``path`` given: it must exist. ``path`` None: ``./inferctl.yaml`` if present, else defaults.
    Returns the config and the file it came from (None for defaults).
    """
    if path is None:
        candidate = Path(DEFAULT_CONFIG_FILE)
        if not candidate.is_file():
            return PlatformConfig(), None
        path = candidate
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise NotFoundError(f"config file {path} {what}; create one with 'inferctl init' or fix --config")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else (exc.strerror or exc)
        raise ConfigError(f"cannot read config file {path} ({reason}); it must be readable UTF-8 YAML") from None
    return parse_config(text, source=str(path)), path


def parse_config(text: str, *, source: str = DEFAULT_CONFIG_FILE) -> PlatformConfig:
    """Parse and validate YAML text. Every problem becomes one :class:`ConfigError` line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML ({problem}); fix the syntax at that line") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys (name:, target:, models: ...)")
    try:
        return PlatformConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, node, source)) from None


def _describe_validation_error(exc: ValidationError, node: yaml.Node | None, source: str) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    path = format_loc(loc)
    line = _line_of(node, loc)
    where = f"{source}:{line}" if line else source
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        key = str(loc[-1])
        valid = sorted(_fields_at(PlatformConfig, loc[:-1]))
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(valid)}"
        return f"{where}: {path}: unknown key {key!r}; {hint}{more}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "string_pattern_mismatch":
        looks_like = PATTERN_HINTS.get(str((first.get("ctx") or {}).get("pattern")))
        if looks_like:
            return f"{where}: {path}: {first.get('input')!r} is not {looks_like}{more}"
    if first["type"] == "literal_error":
        given = first.get("input")
        return f"{where}: {path}: {given!r} is not allowed; {message.lower()}{more}"
    return f"{where}: {path}: {message}{more}"


def format_loc(loc: Sequence[int | str]) -> str:
    """``('models', 0, 'engine', 'dtype')`` -> ``models[0].engine.dtype``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the deepest YAML node that ``loc`` reaches."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == part), None)
            if match is None:
                break
            best = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            break
    return best


def _fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> set[str]:
    """Field names of the config section at ``loc`` (walks nested models, lists and dicts)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int) or current is None:
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return set()
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return set()


def _unwrap(annotation: Any) -> Any:
    """Strip Optional / list / dict / Annotated down to the model class inside, if any."""
    for _ in range(5):
        origin = typing.get_origin(annotation)
        if origin is None:
            return annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (list, tuple, set):
            annotation = args[0]
        elif origin is dict:
            annotation = args[-1]
        elif origin in (typing.Union, types.UnionType, typing.Annotated):
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation
    return annotation


def apply_overrides(
    config: PlatformConfig,
    *,
    target: str | None = None,
    model: str | None = None,
    port: int | None = None,
) -> PlatformConfig:
    """Command-line flags win over the file. Returns a new, validated config.

    ``model`` names a configured deployment (by its name or served name: serve only that one) or is a source
    (HF id, path, 'demo') served alone with default engine settings.
    """
    data = config.model_dump(exclude_unset=False)
    if target is not None:
        if target not in TARGETS:
            close = difflib.get_close_matches(target, TARGETS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(TARGETS)}"
            raise ConfigError(f"--target {target!r} is not a target; {hint}")
        data["target"] = target
    if model is not None:
        # By deployment name, else by the served name clients and 'inferctl endpoint' know it by.
        chosen = [m for m in data["models"] if m["name"] == model] or [
            m for m in data["models"] if m.get("served_model_name") == model
        ]
        if chosen:
            data["models"] = chosen
        else:
            source = (
                model
                if model == DEMO_SOURCE or not Path(model).expanduser().exists()
                else str(Path(model).expanduser().resolve())
            )
            data["models"] = [ModelDeployment(name=model_name_from_source(model), source=source).model_dump()]
    if port is not None:
        data["local"]["port"] = port
    try:
        return PlatformConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, None, "command line")) from None


def json_schema() -> str:
    """The JSON Schema of ``inferctl.yaml`` (for editor completion)."""
    schema = PlatformConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "inferctl.yaml"
    return json.dumps(schema, indent=2, sort_keys=False)
