"""Read a YAML file and remember the line of every key, for editor-friendly errors."""

from __future__ import annotations

from typing import Any

import yaml

PathKey = tuple[str | int, ...]

_TEXT = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


class YamlError(ValueError):
    """A file that is not valid YAML; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def load(text: str) -> tuple[Any, dict[PathKey, int]]:
    """Parse ``text`` safely; return the data and a map of key paths to line numbers.

    Duplicate keys are an error here (PyYAML would silently keep the last one,
    and an editor would wonder why their first value never shows), and so is a
    key that YAML reads as something other than text (``1:``, ``on:``, ``null:``):
    every key is a name, and the checks after this one compare names.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[PathKey, int] = {(): node.start_mark.line + 1}
        _walk(node, (), lines)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or str(exc)
        raise YamlError(f"this is not valid YAML: {reason}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"this is not valid YAML: {exc}", None) from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue  # "<<: *defaults" brings in the keys of another mapping
            if key_node.tag != _TEXT:
                shown = f"'{key_node.value}'" if isinstance(key_node, yaml.ScalarNode) else "here"
                raise YamlError(
                    f"the key {shown} must be a name; put it in quotes if it is one",
                    key_node.start_mark.line + 1,
                )
            key = str(key_node.value)
            if key in seen:
                raise yaml.MarkedYAMLError(problem=f"the key '{key}' appears twice", problem_mark=key_node.start_mark)
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _walk(item, path + (index,), lines)


def line_of(lines: dict[PathKey, int], path: PathKey) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())
