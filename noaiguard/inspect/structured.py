"""RFC 9651 Structured Field Dictionaries, as far as reading ``Content-Usage`` needs them.

The aipref attachment draft carries preferences as a Dictionary (``train-ai=n, search=y``), and
its vocabulary says a value that does not parse leaves *every* preference unknown. So a reader must
reject what RFC 9651 rejects (an uppercase key, a trailing comma, a bad string) rather than guess:
a lenient split on commas would report ``Train-AI=n`` as an opt-out that no conforming crawler
sees. This parser follows the RFC's parsing algorithms (section 4.2) for every item type, so that
what it accepts and refuses is what a conforming reader accepts and refuses.

Values come back as Python values: :class:`Token` (a ``str`` subclass, so ``y`` the Token and
``"y"`` the String stay apart), ``str``, ``int``, ``float``, ``bool``, ``bytes``, :class:`Date`,
:class:`DisplayString`, or a ``list`` for an Inner List. Parameters are parsed and dropped: aipref
ignores them.
"""

from __future__ import annotations

import base64
import binascii
import string

_LCALPHA = frozenset(string.ascii_lowercase)
_KEY_FIRST = _LCALPHA | {"*"}
_KEY_REST = _LCALPHA | frozenset(string.digits) | frozenset("_-.*")
_ALPHA = frozenset(string.ascii_letters)
_DIGITS = frozenset(string.digits)
#: RFC 9110 tchar, plus the ":" and "/" a Token may also hold.
_TOKEN_REST = _ALPHA | _DIGITS | frozenset("!#$%&'*+-.^_`|~:/")
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/=")
_LOWER_HEX = frozenset("0123456789abcdef")
_OWS = " \t"


class Token(str):
    """An RFC 9651 Token: a bare word such as ``y``, as opposed to the String ``"y"``."""

    __slots__ = ()


class DisplayString(str):
    """An RFC 9651 Display String (``%"..."``), decoded."""

    __slots__ = ()


class Date(int):
    """An RFC 9651 Date (``@1700000000``): seconds since the epoch."""

    __slots__ = ()


class StructuredFieldError(ValueError):
    """The text is not a valid Structured Field; the message says where and why."""


class _Reader:
    """The input and a position in it, consumed left to right as RFC 9651 describes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.pos += 1
        return char

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.pos += 1

    def fail(self, reason: str) -> StructuredFieldError:
        return StructuredFieldError(f"{reason} at character {self.pos + 1}")


def parse_dictionary(text: str) -> dict[str, object]:
    """The members of a Dictionary field value; a later duplicate key replaces an earlier one.

    Raises :class:`StructuredFieldError` for anything RFC 9651 rejects.
    """
    reader = _Reader(text)
    reader.skip(" ")
    members: dict[str, object] = {}
    while reader.peek():
        key = _key(reader)
        if reader.peek() == "=":
            reader.take()
            value = _item_or_inner_list(reader)
        else:
            value = True
            _parameters(reader)
        members[key] = value
        reader.skip(_OWS)
        if not reader.peek():
            return members
        if reader.take() != ",":
            raise reader.fail("expected ',' between members")
        reader.skip(_OWS)
        if not reader.peek():
            raise reader.fail("a trailing ','")
    return members


def _key(reader: _Reader) -> str:
    if not reader.peek() or reader.peek() not in _KEY_FIRST:
        raise reader.fail("a key must start with a lowercase letter or '*'")
    start = reader.pos
    while reader.peek() and reader.peek() in _KEY_REST:
        reader.pos += 1
    return reader.text[start : reader.pos]


def _item_or_inner_list(reader: _Reader) -> object:
    if reader.peek() == "(":
        return _inner_list(reader)
    value = _bare_item(reader)
    _parameters(reader)
    return value


def _inner_list(reader: _Reader) -> list[object]:
    reader.take()  # "("
    items: list[object] = []
    while reader.peek():
        reader.skip(" ")
        if reader.peek() == ")":
            reader.take()
            _parameters(reader)
            return items
        items.append(_bare_item(reader))
        _parameters(reader)
        if reader.peek() not in (" ", ")"):
            raise reader.fail("expected ' ' or ')' in an inner list")
    raise reader.fail("an inner list without ')'")


def _parameters(reader: _Reader) -> None:
    while reader.peek() == ";":
        reader.take()
        reader.skip(" ")
        _key(reader)
        if reader.peek() == "=":
            reader.take()
            _bare_item(reader)


def _bare_item(reader: _Reader) -> object:
    first = reader.peek()
    if first == "-" or first in _DIGITS:
        return _number(reader)
    if first == '"':
        return _string(reader)
    if first == "*" or first in _ALPHA:
        return _token(reader)
    if first == ":":
        return _byte_sequence(reader)
    if first == "?":
        return _boolean(reader)
    if first == "@":
        reader.take()
        number = _number(reader)
        if not isinstance(number, int):
            raise reader.fail("a date must be an integer")
        return Date(number)
    if first == "%":
        return _display_string(reader)
    raise reader.fail("expected an item")


def _number(reader: _Reader) -> int | float:
    sign = 1
    if reader.peek() == "-":
        reader.take()
        sign = -1
    if not reader.peek() or reader.peek() not in _DIGITS:
        raise reader.fail("expected a digit")
    digits = ""
    decimal = False
    while reader.peek() and (reader.peek() in _DIGITS or (reader.peek() == "." and not decimal)):
        char = reader.take()
        if char == ".":
            if len(digits) > 12:
                raise reader.fail("too many digits before the decimal point")
            decimal = True
        digits += char
        if len(digits) > (16 if decimal else 15):
            raise reader.fail("a number too long")
    if not decimal:
        return sign * int(digits)
    if digits.endswith("."):
        raise reader.fail("a decimal without fraction digits")
    if len(digits.split(".", 1)[1]) > 3:
        raise reader.fail("more than three fraction digits")
    return sign * float(digits)


def _string(reader: _Reader) -> str:
    reader.take()  # the opening quote
    out = []
    while reader.peek():
        char = reader.take()
        if char == "\\":
            escaped = reader.take()
            if escaped not in ('"', "\\"):
                raise reader.fail("a backslash may only escape '\"' or '\\'")
            out.append(escaped)
        elif char == '"':
            return "".join(out)
        elif not " " <= char <= "~":
            raise reader.fail("a string may hold only printable ASCII")
        else:
            out.append(char)
    raise reader.fail("a string without its closing quote")


def _token(reader: _Reader) -> Token:
    start = reader.pos
    reader.take()
    while reader.peek() and reader.peek() in _TOKEN_REST:
        reader.pos += 1
    return Token(reader.text[start : reader.pos])


def _byte_sequence(reader: _Reader) -> bytes:
    reader.take()  # ":"
    end = reader.text.find(":", reader.pos)
    if end < 0:
        raise reader.fail("a byte sequence without its closing ':'")
    encoded = reader.text[reader.pos : end]
    if any(char not in _BASE64 for char in encoded):
        raise reader.fail("a byte sequence must be base64")
    reader.pos = end + 1
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    except binascii.Error as exc:
        raise reader.fail("a byte sequence that is not base64") from exc


def _boolean(reader: _Reader) -> bool:
    reader.take()  # "?"
    char = reader.take()
    if char == "1":
        return True
    if char == "0":
        return False
    raise reader.fail("a boolean must be ?0 or ?1")


def _display_string(reader: _Reader) -> DisplayString:
    reader.take()  # "%"
    if reader.take() != '"':
        raise reader.fail("expected '\"' after '%'")
    raw = bytearray()
    while reader.peek():
        char = reader.take()
        if char == "%":
            hex_digits = reader.take() + reader.take()
            if len(hex_digits) != 2 or any(c not in _LOWER_HEX for c in hex_digits):
                raise reader.fail("a display string escape must be two lowercase hex digits")
            raw.append(int(hex_digits, 16))
        elif char == '"':
            try:
                return DisplayString(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise reader.fail("a display string that is not UTF-8") from exc
        elif not " " <= char <= "~":
            raise reader.fail("a display string may hold only printable ASCII")
        else:
            raw += char.encode("ascii")
    raise reader.fail("a display string without its closing quote")
