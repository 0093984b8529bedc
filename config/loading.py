"""Reading a config file: YAML, `${VAR}` substitution, relative paths, readable errors."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import pydantic
import yaml
from pydantic_core.core_schema import ErrorType

from config.model import SOURCE_KINDS, Config

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# pydantic's own error types; any other type is one our validators raise, with a complete message.
_PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))
# The longest value quoted back in an error; a mapping or a list is named, never printed.
_QUOTED_VALUE_CHARACTERS = 80


class ConfigError(Exception):
    """A config file that cannot be used; `problems` holds one `key.path: what is wrong` per line."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = problems
        listing = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{path} is not a valid Overheard config:\n{listing}")


def load_config(path: Path | str) -> Config:
    """Read, substitute and validate a config file.

    `${VAR}` and `${VAR:-default}` in string values are replaced from the environment. The
    warehouse path and a staging location without a URL scheme are taken relative to the
    config file's folder.

    Args:
        path: the YAML file.

    Returns:
        The validated config.

    Raises:
        ConfigError: naming each key path that is wrong and what is expected there.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["file not found; copy config/example.yaml and edit it"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path, [f"cannot be read: {error}"]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(path, [f"{where}not valid YAML ({getattr(error, 'problem', error)})"]) from None
    if not isinstance(document, dict):
        raise ConfigError(path, ["expected a mapping of settings at the top level (timezone, warehouse, brands, ...)"])

    problems: list[str] = []
    document = _substitute_environment(document, "", problems)
    if problems:
        raise ConfigError(path, problems)
    try:
        config = Config.model_validate(document)
    except pydantic.ValidationError as error:
        raise ConfigError(path, [_describe(item, document) for item in error.errors()]) from None
    return _resolve_paths(config, path.resolve().parent)


def _substitute_environment(node: Any, key_path: str, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {key: _substitute_environment(value, _join(key_path, key), problems) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute_environment(value, f"{key_path}[{i}]", problems) for i, value in enumerate(node)]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(f"{key_path}: environment variable {name} is not set (or write ${{{name}:-default}})")
        return match.group(0)

    return _ENV_REFERENCE.sub(replace, node)


def _resolve_paths(config: Config, base: Path) -> Config:
    warehouse_path = Path(config.warehouse.path).expanduser()
    if not warehouse_path.is_absolute():
        warehouse_path = base / warehouse_path
    staging = config.staging
    if "://" not in staging:
        staging_path = Path(staging).expanduser()
        staging = str((base / staging_path).resolve())
    report_folder = Path(config.report.folder).expanduser()
    if not report_folder.is_absolute():
        report_folder = warehouse_path.parent / report_folder
    return config.model_copy(
        update={
            "warehouse": config.warehouse.model_copy(update={"path": str(warehouse_path.resolve())}),
            "staging": staging,
            "report": config.report.model_copy(update={"folder": str(report_folder.resolve())}),
        }
    )


def _join(key_path: str, key: Any) -> str:
    return f"{key_path}.{key}" if key_path else str(key)


def _describe(error: Any, document: Any) -> str:
    """One line for one pydantic error: `brands[1].aliases: expected a list of strings`.

    The line is the key path and the message only. Our validators' messages are complete as written;
    one that checks names across a section (a routing rule's queue) adds the path below the section
    as `key_path` in the error's context. pydantic's own messages quote the wrong value when it is
    short, and only name its kind when it is a mapping or a list (a whole playbook, otherwise).
    """
    key_path, node = "", document
    for part in error["loc"]:
        if isinstance(part, int):
            key_path += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # pydantic puts a tagged union's tag in the path; the reader never wrote it
        else:
            key_path = _join(key_path, part)
            node = node.get(part) if isinstance(node, dict) else None
    kind = error["type"]
    below = (error.get("ctx") or {}).get("key_path")
    if below:
        key_path = f"{key_path}{below}" if below.startswith("[") else _join(key_path, below)
    if kind not in _PYDANTIC_ERROR_TYPES:
        message = error["msg"]
    elif kind == "missing":
        message = "required, but missing"
    elif kind == "extra_forbidden":
        message = "unknown key (check its spelling against config/example.yaml)"
    elif kind == "union_tag_invalid":
        message = f"unknown source kind {error['input'].get('kind')!r}; expected one of {', '.join(SOURCE_KINDS)}"
    elif kind == "union_tag_not_found":
        message = f"missing 'kind' (one of {', '.join(SOURCE_KINDS)})"
    else:
        message = f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_quoted(error['input'])}"
    return f"{key_path or '(top level)'}: {message}"


def _quoted(value: Any) -> str:
    """A wrong value as an error quotes it: short values in full, long ones cut, collections by kind."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value)
    return text if len(text) <= _QUOTED_VALUE_CHARACTERS else f"{text[: _QUOTED_VALUE_CHARACTERS - 1]}…"
