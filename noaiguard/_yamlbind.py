"""Bind a YAML document to a tree of frozen dataclasses, collecting every problem on the way.

The loader works in two phases, as anubis does: PyYAML composes the node tree (which keeps line and
column of every key and value), then :class:`Binder` walks it alongside the dataclass fields. Each
problem becomes a :class:`~noaiguard.errors.ConfigIssue` pointing at the offending key or value;
nothing stops at the first one, so a person fixes a broken file in one pass.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``StrEnum`` subclasses,
``tuple[T, ...]``, ``Mapping[K, V]`` (bound to a read-only mapping), ``T | None`` and nested
dataclasses. A field may carry ``metadata={"check": fn}``, where ``fn(value)`` returns an error
message or ``None``; a dataclass may define ``_problems(self)`` yielding ``(field, message)`` pairs
for checks that span several fields.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, TypeVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from .errors import ConfigError, ConfigIssue

T = TypeVar("T")

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"


class _Invalid:
    """Marks a value that failed to bind; its issue is already recorded."""


INVALID: Any = _Invalid()

Check = Callable[[Any], str | None]


def suggest(word: str, candidates: Iterable[str]) -> str:
    """A ``did you mean`` suffix for an unknown name, or an empty string."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def describe(node: yaml.Node) -> str:
    """How a YAML value reads in an error message."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "nothing"
    text = str(node.value)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


class Binder:
    """One binding pass over one YAML source; ``issues`` collects what is wrong with it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[ConfigIssue] = []
        self._constructor = SafeConstructor()

    # -- entry points -------------------------------------------------------------------------

    def compose(self, text: str) -> yaml.Node | None:
        """Parse YAML text into a node tree; a syntax error becomes an issue."""
        try:
            return yaml.compose(text, Loader=_LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            message = " ".join(filter(None, [exc.context, exc.problem])) or str(exc)
            self.issues.append(ConfigIssue(self.source, line, column, "(yaml)", message))
        except yaml.reader.ReaderError as exc:
            # Not a MarkedYAMLError: its message names "<unicode string>" and a position, on
            # two lines, and says nothing of the line. The position is where the character is.
            line, column = _line_and_column(text, exc.position)
            message = exc.reason
            if isinstance(exc.character, int):
                message = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
            self.issues.append(ConfigIssue(self.source, line, column, "(yaml)", message))
        except yaml.YAMLError as exc:
            self.issues.append(ConfigIssue(self.source, 1, 1, "(yaml)", str(exc)))
        return None

    def bind_document(self, cls: type[T], node: yaml.Node | None) -> T:
        """Bind a whole document to ``cls``; raise :class:`ConfigError` listing every issue."""
        value = INVALID
        if not self.issues:
            value = self.bind(cls, node, "")
        if self.issues:
            raise ConfigError(self.issues)
        return typing.cast(T, value)

    # -- reporting ----------------------------------------------------------------------------

    def issue(self, node: yaml.Node | None, key: str, message: str) -> Any:
        mark = node.start_mark if node is not None else None
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        self.issues.append(ConfigIssue(self.source, line, column, key or "(top level)", message))
        return INVALID

    # -- binding ------------------------------------------------------------------------------

    def bind(self, tp: Any, node: yaml.Node | None, key: str, check: Check | None = None) -> Any:
        value = self._bind(tp, node, key)
        if value is not INVALID and check is not None:
            message = check(value)
            if message:
                return self.issue(node, key, message)
        return value

    def _bind(self, tp: Any, node: yaml.Node | None, key: str) -> Any:
        origin = typing.get_origin(tp)
        if origin in (types.UnionType, typing.Union):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
                return None
            return self._bind(options[0], node, key)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self._bind_dataclass(tp, node, key)
        if origin is tuple:
            return self._bind_tuple(typing.get_args(tp)[0], node, key)
        if origin in (Mapping, dict, typing.Mapping):
            key_type, value_type = typing.get_args(tp)
            return self._bind_mapping(key_type, value_type, node, key)
        if node is None:
            return self.issue(node, key, "a value is required")
        if not isinstance(node, yaml.ScalarNode):
            return self.issue(node, key, f"expected {_type_name(tp)}, got {describe(node)}")
        return self._bind_scalar(tp, node, key)

    def _bind_scalar(self, tp: Any, node: yaml.ScalarNode, key: str) -> Any:
        if isinstance(tp, type) and issubclass(tp, Enum):
            choices = [str(member.value) for member in tp]
            text = str(node.value)
            if text not in choices:
                return self.issue(
                    node,
                    key,
                    f"unknown value {text!r}; expected one of {', '.join(choices)}"
                    + suggest(text, choices),
                )
            return tp(text)
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (ConstructorError, ValueError) as exc:
            return self.issue(node, key, f"cannot read {describe(node)}: {exc}")
        if tp is str:
            if node.tag == _STR_TAG or (
                isinstance(value, int | float) and not isinstance(value, bool)
            ):
                return str(node.value)
            if isinstance(value, bool):
                return self.issue(
                    node, key, f"expected text, got a yes/no value {node.value!r} (quote it)"
                )
            return self.issue(node, key, f"expected text, got {describe(node)}")
        if tp is bool:
            if isinstance(value, bool):
                return value
            return self.issue(node, key, f"expected true or false, got {describe(node)}")
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            return self.issue(node, key, f"expected a whole number, got {describe(node)}")
        if tp is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            return self.issue(node, key, f"expected a number, got {describe(node)}")
        raise TypeError(f"unsupported config type {tp!r} at {key}")  # a bug in our dataclasses

    def _bind_tuple(self, item_type: Any, node: yaml.Node | None, key: str) -> Any:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
            return ()
        if isinstance(node, yaml.ScalarNode) and not _is_structured(item_type):
            # A single value where a list is expected: `paths: /press/**` means one path.
            value = self._bind(item_type, node, key)
            return INVALID if value is INVALID else (value,)
        if not isinstance(node, yaml.SequenceNode):
            return self.issue(node, key, f"expected a list, got {describe(node)}")
        items = [self._bind(item_type, item, f"{key}[{i}]") for i, item in enumerate(node.value)]
        if any(item is INVALID for item in items):
            return INVALID
        return tuple(items)

    def _bind_mapping(
        self, key_type: Any, value_type: Any, node: yaml.Node | None, key: str
    ) -> Any:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
            return types.MappingProxyType({})
        if not isinstance(node, yaml.MappingNode):
            return self.issue(node, key, f"expected a mapping, got {describe(node)}")
        result: dict[Any, Any] = {}
        ok = True
        for key_node, value_node in self._pairs(node, key):
            name = str(key_node.value)
            sub = f"{key}.{name}" if key else name
            map_key = self._bind(key_type, key_node, sub)
            value = self._bind(value_type, value_node, sub)
            if map_key is INVALID or value is INVALID:
                ok = False
                continue
            result[map_key] = value
        return types.MappingProxyType(result) if ok else INVALID

    def _bind_dataclass(self, cls: type[Any], node: yaml.Node | None, key: str) -> Any:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
            node_map: dict[str, tuple[yaml.Node, yaml.Node]] = {}
            anchor: yaml.Node | None = node
        elif isinstance(node, yaml.MappingNode):
            node_map = {str(k.value): (k, v) for k, v in self._pairs(node, key)}
            anchor = node
        else:
            return self.issue(node, key, f"expected a mapping, got {describe(node)}")

        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("yaml", True)}
        for name, (key_node, _) in node_map.items():
            if name not in fields:
                sub = f"{key}.{name}" if key else name
                self.issue(key_node, sub, "unknown key" + suggest(name, fields))

        kwargs: dict[str, Any] = {}
        ok = True
        for name, field in fields.items():
            sub = f"{key}.{name}" if key else name
            if name not in node_map:
                if _required(field):
                    self.issue(anchor, sub, "missing required key")
                    ok = False
                continue
            _, value_node = node_map[name]
            value = self.bind(hints[name], value_node, sub, field.metadata.get("check"))
            if value is INVALID:
                ok = False
            else:
                kwargs[name] = value
        if not ok or any(name not in fields for name in node_map):
            return INVALID
        obj = cls(**kwargs)
        problems = getattr(obj, "_problems", None)
        if problems is not None:
            bad = False
            for field_name, message in problems():
                target = node_map.get(field_name, (None, anchor))[1]
                sub = ".".join(filter(None, [key, field_name]))
                self.issue(target, sub, message)
                bad = True
            if bad:
                return INVALID
        return obj

    def _pairs(self, node: yaml.MappingNode, key: str) -> list[tuple[yaml.Node, yaml.Node]]:
        """Key/value pairs with YAML merge keys applied and duplicate keys reported."""
        try:
            self._constructor.flatten_mapping(node)
        except ConstructorError as exc:
            self.issue(node, key, f"cannot merge: {exc.problem}")
        seen: dict[str, yaml.Node] = {}
        pairs: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(key_node, key, "keys must be plain names")
                continue
            name = str(key_node.value)
            if name in seen:
                sub = f"{key}.{name}" if key else name
                first = seen[name].start_mark.line + 1
                self.issue(key_node, sub, f"duplicate key (first given on line {first})")
                continue
            seen[name] = key_node
            pairs.append((key_node, value_node))
        return pairs


#: What YAML counts as a line break (YAML 1.1, 5.4), for lines and columns of our own.
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def _line_and_column(text: str, position: int) -> tuple[int, int]:
    """The 1-based line and column of a reader error's ``position`` in ``text``.

    libyaml counts the position in bytes of the UTF-8 text, PyYAML's own reader in characters.
    """
    if _LOADER is not yaml.SafeLoader:
        text = text.encode("utf-8")[:position].decode("utf-8", "ignore")
        position = len(text)
    breaks = list(_LINE_BREAK.finditer(text, 0, position))
    start = breaks[-1].end() if breaks else 0
    return len(breaks) + 1, position - start + 1


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _is_structured(tp: Any) -> bool:
    return dataclasses.is_dataclass(tp) or typing.get_origin(tp) in (tuple, Mapping, dict)


def _type_name(tp: Any) -> str:
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
    if tp in names:
        return names[tp]
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    return "a value"
