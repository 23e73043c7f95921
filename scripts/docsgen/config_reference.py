"""docs/reference/config.md from ``inferctl config schema``: every key of inferctl.yaml with type, default, description.

Defaults come from the schema; where the schema has none (lists and maps built by a default factory) from the
default config itself (``PlatformConfig()``), which is what ``inferctl config show`` prints without a file.
"""

from __future__ import annotations

import json
from typing import Any

from scripts.docsgen.markdown import code, header, table, text

_MISSING = object()


def generate() -> str:
    from inferctl.config.loader import json_schema
    from inferctl.config.models import PlatformConfig

    schema = json.loads(json_schema())
    defs = schema.get("$defs", {})
    defaults = PlatformConfig().model_dump(mode="json")
    out = [
        header("`inferctl config schema` (src/inferctl/config/models.py)"),
        "# Configuration reference\n",
        "Every key of `inferctl.yaml`. `inferctl init` writes a commented starter, `inferctl config show` prints "
        "the effective values, and `inferctl config schema` prints the JSON Schema this page is made from (point "
        "your editor's YAML plugin at it). Unknown keys are errors. `models[].x` is key `x` of each entry of the "
        "`models` list; `map` keys are yours to choose.\n",
    ]
    required = set(schema.get("required", []))
    for key, prop in schema["properties"].items():
        rows: list[tuple[str, str, str, str]] = []
        section_default = defaults.get(key, _MISSING)
        target = _resolve(prop, defs)
        doc = prop.get("description") or (target or {}).get("description", "")
        if target is not None and "properties" in target:
            if prop.get("type") == "array":
                rows.append(_row(key, prop, defs, section_default, key in required))
            _rows(target, defs, _prefix(key, prop), section_default, rows)
            out.append(f"## `{key}`\n")
            if doc:
                out.append(text(doc) + "\n")
        else:
            out.append(f"## `{key}`\n")
            rows.append(_row(key, prop, defs, section_default, key in required))
        out.append(table(("key", "type", "default", "description"), rows))
    return "\n".join(out)


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema a property holds (through $ref, a nullable anyOf, or list items), else None."""
    if "$ref" in prop:
        return defs[prop["$ref"].rsplit("/", 1)[-1]]  # type: ignore[no-any-return]
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        return _resolve(prop["items"], defs)
    for option in prop.get("anyOf", []):
        found = _resolve(option, defs)
        if found is not None:
            return found
    return None


def _rows(obj: dict[str, Any], defs: dict[str, Any], prefix: str, defaults: Any, rows: list[Any]) -> None:
    required = set(obj.get("required", []))
    if isinstance(defaults, list):  # models: the default entry is an example of each entry's defaults
        defaults = defaults[0] if defaults else _MISSING
    for key, prop in obj["properties"].items():
        path = f"{prefix}.{key}"
        default = defaults.get(key, _MISSING) if isinstance(defaults, dict) else _MISSING
        target = _resolve(prop, defs)
        if target is not None and "properties" in target:
            if prop.get("anyOf") or prop.get("type") == "array":  # optional section or list: a row of its own too
                rows.append(_row(path, prop, defs, default, key in required))
            _rows(target, defs, _prefix(path, prop), default if default is not None else _MISSING, rows)
        else:
            rows.append(_row(path, prop, defs, default, key in required))


def _prefix(path: str, prop: dict[str, Any]) -> str:
    """``models[]`` for a list of objects, so its entries' keys read ``models[].name``."""
    return f"{path}[]" if prop.get("type") == "array" else path


def _row(path: str, prop: dict[str, Any], defs: dict[str, Any], instance_default: Any, required: bool) -> Any:
    target = _resolve(prop, defs)
    description = prop.get("description") or (target or {}).get("description", "")
    if "default" in prop:
        default = _show(prop["default"])
    elif required:
        default = "required"
    elif instance_default is not _MISSING:
        default = _show(instance_default)
    else:
        default = ""
    return (
        code(path),
        text(_type(prop, defs)),
        code(default) if default not in ("", "required") else default,
        text(description),
    )


def _show(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        names = [str(item.get("name", "?")) for item in value]
        return f"{len(value)} entr{'y' if len(value) == 1 else 'ies'}: {', '.join(names)}"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return "object"
    if "const" in prop:
        return f"exactly {json.dumps(prop['const'])}"
    if "anyOf" in prop:
        kinds = [_type(option, defs) for option in prop["anyOf"] if option.get("type") != "null"]
        nullable = any(option.get("type") == "null" for option in prop["anyOf"])
        return " or ".join(kinds) + (" (or null: unset)" if nullable else "")
    if "enum" in prop:
        return "one of " + ", ".join(
            json.dumps(value) if not isinstance(value, str) else value for value in prop["enum"]
        )
    kind = prop.get("type", "any")
    if kind == "array":
        items = prop.get("items", {})
        name = "object" if _resolve(items, defs) else _type(items, defs)
        described = f"list of {name}"
    elif kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        described = f"map of string to {_type(prop['additionalProperties'], defs)}"
    else:
        described = {"integer": "integer", "number": "number", "string": "string", "boolean": "boolean"}.get(kind, kind)
    return described + _limits(prop)


def _limits(prop: dict[str, Any]) -> str:
    parts = []
    if "minimum" in prop:
        parts.append(f">= {prop['minimum']}")
    if "exclusiveMinimum" in prop:
        parts.append(f"> {prop['exclusiveMinimum']}")
    if "maximum" in prop:
        parts.append(f"<= {prop['maximum']}")
    if "minItems" in prop:
        parts.append(f"at least {prop['minItems']} item{'s' if prop['minItems'] != 1 else ''}")
    if "pattern" in prop:
        parts.append(f"matching {prop['pattern']}")
    return f" ({', '.join(parts)})" if parts else ""
