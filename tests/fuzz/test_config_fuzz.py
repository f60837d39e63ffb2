"""Fuzzing the configuration loader: any text gives a Config or a ConfigError, nothing else.

Documents are generated from the Config dataclasses themselves (known keys with right and wrong
values, unknown keys, nesting where none belongs), dumped as YAML and then damaged with the
characters YAML gives meaning to: anchors, aliases, merge keys, tags, tabs, flow brackets,
directives, NUL, BOM and odd line breaks. Every problem must come back as ``source:line:col: key:
message``, pointing inside the text.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from noaiguard import Config, ConfigError, load_config, parse_config
from noaiguard.config import config_from_mapping

from .budget import fuzz

SOURCE = "site.yaml"

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["GPTBot", "block", "/press/**", "noai", "text/html", "10.0.0.0/8", "{x}"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


keys = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))


def values(tp: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for a field of type ``tp``: mostly of its shape, sometimes anything at all."""
    return st.one_of(_shaped(tp, depth), junk) if depth < 3 else junk


def _shaped(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([values(a, depth) for a in typing.get_args(tp)])
    if tp is type(None):
        return st.none()
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        fields = [f.name for f in dataclasses.fields(tp) if f.metadata.get("yaml", True)]
        known = st.fixed_dictionaries(
            {}, optional={name: values(hints[name], depth + 1) for name in fields}
        )
        unknown = st.dictionaries(st.sampled_from(["extra", "polcy", "Mode"]), junk, max_size=1)
        return st.tuples(known, unknown).map(lambda parts: {**parts[0], **parts[1]})
    if origin is tuple:
        return st.lists(values(typing.get_args(tp)[0], depth + 1), max_size=2)
    if origin in (Mapping, dict):
        key_type, value_type = typing.get_args(tp)
        key = st.one_of(_shaped(key_type, depth + 1), keys)
        return st.dictionaries(key, values(value_type, depth + 1), max_size=2)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from([member.value for member in tp])
    return {
        str: st.text(max_size=12),
        int: st.integers(-5, 70000),
        float: st.floats(-1, 1e6),
        bool: st.booleans(),
    }.get(tp, junk)


documents = values(Config).map(lambda doc: yaml.safe_dump(doc, sort_keys=False))
SPECIALS = st.sampled_from(
    ["&a ", "*a", "<<: *a", "<<: ", "!!binary ", "!!python/object:os.system ", ": ", "- ", "\t",
     "'", '"', "{", "[", "]", "}", "\n", "? ", "%YAML 1.1\n", "---\n", "...\n", "\x00", "\ufeff",
     "\x85", "\u2028", "#", "|", ">", "~", "&b [*b]"]
)  # fmt: skip


@st.composite
def texts(draw: st.DrawFn) -> str:
    text = draw(documents)
    for position, special in draw(st.lists(st.tuples(st.integers(0), SPECIALS), max_size=4)):
        at = position % (len(text) + 1)
        text = text[:at] + special + text[at:]
    return text


_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def check_result(text: str, source: str = SOURCE) -> None:
    try:
        config = parse_config(text, source)
    except ConfigError as error:
        check_error(error, text, source)
    else:
        assert isinstance(config, Config)
        assert config.source == source


def check_error(error: ConfigError, text: str, source: str) -> None:
    assert error.issues
    lines = len(_LINE_BREAK.findall(text)) + 2
    for issue in error.issues:
        assert str(issue).startswith(f"{source}:{issue.line}:{issue.column}: {issue.key}: ")
        assert 1 <= issue.line <= lines and issue.column >= 1, issue
        assert issue.key and issue.message
        assert "Node(" not in str(issue), issue  # a YAML node's repr is no message
    assert str(error).count("\n") == len(error.issues) - 1, "a message on two lines"


@fuzz(70)
@given(text=texts())
@example(text="policy: {agents: {? [a] : block}}")  # a list as a key: the name was a node's repr
@example(text="policy: &a {<<: *a}")  # a mapping merged into itself
@example(text="[" * 5000)
@example(text="mode: enforce\né: \x00")  # a reader error: it said line 1, on two lines of text
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    check_result(text)


def test_a_bad_character_is_reported_where_it_is() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config("mode: enforce\né: 1\nstore: {url: \x07}", SOURCE)
    assert str(raised.value) == (
        "site.yaml:3:14: (yaml): unacceptable character #x0007: control characters are not allowed"
    )


@fuzz(40)
@given(data=st.binary(max_size=300))
def test_any_file_is_a_config_or_a_config_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "site.yaml"
        path.write_bytes(data)
        try:
            config = load_config(path)
        except ConfigError as error:
            text = data.decode("utf-8", "replace")
            check_error(error, text, str(path))
        else:
            assert config.source == str(path)


@fuzz(12)  # each valid-enough mapping loads the agent database again: about 0.1 s
@given(data=values(Config).filter(lambda d: isinstance(d, dict)))
def test_any_django_setting_is_a_config_or_a_config_error(data: dict[str, Any]) -> None:
    try:
        config_from_mapping(data, "settings.NOAIGUARD")
    except ConfigError as error:
        for issue in error.issues:
            assert str(issue).startswith(f"settings.NOAIGUARD: {issue.key}: ")  # no lines
            assert "Node(" not in str(issue)
