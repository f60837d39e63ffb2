"""Reading ``Content-Usage`` (IETF aipref) and ``Content-Signal`` (Cloudflare) values.

``Content-Usage`` (draft-ietf-aipref-vocab, -attach) is an RFC 9651 Dictionary whose keys are
usage categories (``train-ai``, ``search``) and whose values are the Tokens ``y`` or ``n``.
Anything else for a key (a String ``"n"``, a Boolean, another Token) leaves that use *unknown*,
and a value that does not parse leaves every use unknown. Several statements combine with the
most restrictive winning: any ``n`` refuses, else any ``y`` allows.

``Content-Signal`` (contentsignals.org) is a plainer list, ``search=yes, ai-train=no``; unknown
keys are tolerated, and a use not listed is neither granted nor refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .structured import StructuredFieldError, Token, parse_dictionary

TRAIN_AI = "train-ai"
SEARCH = "search"
AI_TRAIN = "ai-train"
AI_INPUT = "ai-input"

_USAGE_TOKENS = {"y": True, "n": False}
_SIGNAL_WORDS = {"yes": True, "no": False}


@dataclass(frozen=True, slots=True)
class Usage:
    """A Content-Usage value as a reader sees it: True allowed, False refused, None unknown."""

    text: str
    train_ai: bool | None = None
    search: bool | None = None
    #: Why the value does not parse ("" when it does): then every use is unknown.
    error: str = ""


def read_usage(text: str) -> Usage:
    """One Content-Usage value (a header, or the preference part of a robots.txt line)."""
    try:
        members = parse_dictionary(text.strip(" \t"))
    except StructuredFieldError as exc:
        return Usage(text, error=str(exc))
    return Usage(text, _usage_value(members.get(TRAIN_AI)), _usage_value(members.get(SEARCH)))


def _usage_value(value: object) -> bool | None:
    if isinstance(value, Token):
        return _USAGE_TOKENS.get(str(value))
    return None


def most_restrictive(values: Iterable[bool | None]) -> bool | None:
    """aipref's rule for several statements: any refusal wins, then any grant, else unknown."""
    seen = set(values)
    if False in seen:
        return False
    if True in seen:
        return True
    return None


@dataclass(frozen=True, slots=True)
class Signal:
    """A Content-Signal value: True yes, False no, None not said (or not yes/no)."""

    text: str
    ai_train: bool | None = None
    search: bool | None = None
    ai_input: bool | None = None


def read_signal(text: str) -> Signal:
    """``search=yes, ai-input=no, ai-train=no`` (keys and words case-insensitive, last wins)."""
    said: dict[str, bool | None] = {}
    for part in text.split(","):
        key, equals, word = part.partition("=")
        if equals:
            said[key.strip().lower()] = _SIGNAL_WORDS.get(word.strip().lower())
    return Signal(text.strip(), said.get(AI_TRAIN), said.get(SEARCH), said.get(AI_INPUT))


def yes_no(value: bool | None, *, aipref: bool) -> str:
    """A use's value as the vocabulary writes it (``n``/``no``), or ``unknown``."""
    if value is None:
        return "unknown"
    if aipref:
        return "y" if value else "n"
    return "yes" if value else "no"
