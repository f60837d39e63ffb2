"""One compiled matcher over every User-Agent token, with token-boundary semantics.

A single Aho-Corasick pass over the lower-cased User-Agent finds every occurrence of every token
in about a microsecond; each hit is then kept only if it sits on token boundaries. Where a token
starts or ends with a letter or digit, the neighbouring character of the User-Agent must not be
one. That is the fix the ai.robots.txt project needed after ``LCC`` matched ``SLCC2`` in
Windows 7 User-Agents (their issue #208). A token ending in ``/`` therefore only matches the
product form ``Token/1.0``.
Unlike ``\\b`` in a regular expression, ``_`` counts as a boundary: Amazon's ``bedrockbot_<id>``
must match ``bedrockbot``.

Of several hits the longest token wins (``GoogleOther-Image`` over ``GoogleOther``), then the
earliest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

import ahocorasick

T = TypeVar("T")


def _is_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


class TokenMatcher(Generic[T]):
    """Finds the best token of ``tokens`` (lower-case keys) in a lower-cased text."""

    def __init__(self, tokens: Mapping[str, T]) -> None:
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        for token, value in tokens.items():
            if token != token.lower() or not token:
                raise ValueError(f"matcher tokens must be non-empty and lower-case: {token!r}")
            self._automaton.add_word(token, (token, _is_word(token[0]), _is_word(token[-1]), value))
        self._empty = len(tokens) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def find(self, text: str) -> tuple[T, str] | None:
        """The value and token of the best match in ``text`` (already lower-cased), or None."""
        if self._empty:
            return None
        best: tuple[str, int, T] | None = None
        last = len(text) - 1
        for end, (token, word_start, word_end, value) in self._automaton.iter(text):
            start = end - len(token) + 1
            if word_start and start > 0 and _is_word(text[start - 1]):
                continue
            if word_end and end < last and _is_word(text[end + 1]):
                continue
            if (
                best is None
                or len(token) > len(best[0])
                or (len(token) == len(best[0]) and start < best[1])
            ):
                best = (token, start, value)
        if best is None:
            return None
        return best[2], best[0]
