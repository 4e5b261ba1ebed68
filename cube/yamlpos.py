"""YAML with positions: every value and key keeps the line and column it came from.

Diagnostics must point at the offending key itself, so the loader walks PyYAML's node tree in
parallel with the constructed data and records positions by path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[Any, ...]


@dataclass
class PosDoc:
    data: Any
    value_pos: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: Path_) -> tuple[int, int]:
        """Position of the key at ``path`` if it is a mapping key, else of the value, else of the nearest parent."""
        p = tuple(path)
        while p:
            if p in self.key_pos:
                return self.key_pos[p]
            if p in self.value_pos:
                return self.value_pos[p]
            p = p[:-1]
        return self.value_pos.get((), (1, 1))

    def value_at(self, path: Path_) -> tuple[int, int]:
        p = tuple(path)
        return self.value_pos.get(p) or self.at(p)


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int, col: int):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_with_positions(text: str) -> PosDoc:
    """The data and positions of one YAML document, parsed once with libyaml (``CSafeLoader``,
    16 times faster than PyYAML's pure-Python loader on the model files: 9 vs 147 ms, and every
    process that loads the model pays it). A file libyaml refuses is parsed again by the
    pure-Python loader, whose messages ("expected <block end>, but found ...") the diagnostics
    have always shown."""
    try:
        node, data = _compose_and_construct(text, yaml.CSafeLoader)
    except yaml.YAMLError:  # whatever libyaml refuses, the pure-Python loader reports as it always has
        try:
            node, data = _compose_and_construct(text, yaml.SafeLoader)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise YamlSyntaxError(f"{err.problem or err}", line, col) from None
        except yaml.reader.ReaderError as err:  # a character YAML does not allow (a control character)
            before = text[:err.position]
            line, col = before.count("\n") + 1, err.position - (before.rfind("\n") + 1) + 1
            raise YamlSyntaxError(f"character #x{err.character:04x} is not allowed: {err.reason}", line, col) from None
    doc = PosDoc(data)
    if node is not None:
        _walk(node, (), doc)
    return doc


def _compose_and_construct(text: str, loader_class: type) -> tuple[yaml.Node | None, Any]:
    """The document's node tree and the data built from that same tree (one parse, not two)."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Path_, doc: PosDoc) -> None:
    doc.value_pos[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            doc.key_pos[path + (key,)] = _mark(k)
            _walk(v, path + (key,), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, path + (i,), doc)
