"""Streaming injection of ``<meta name="robots" content="noai, noimageai">`` into HTML pages.

:class:`HeadInjector` reads a page as it streams and holds back at most ``max_lookahead`` bytes
while it looks for the place to put the tag:

* right after ``<head ...>``; failing that right after ``<html ...>``; failing that, in a document
  that starts with a doctype, right before its first element (an HTML parser puts a ``<meta>``
  there into the implied ``<head>``). A fragment without doctype, ``<html>`` or ``<head>``
  (an htmx or Turbo partial) is left alone;
* if the head already has a robots meta, its ``content`` gets the missing directives instead, so
  the page never carries two robots tags.

Comments, doctypes and the raw text of ``<script>``, ``<style>`` and ``<title>`` are skipped, so a
``<head>`` or ``<meta>`` inside them is never mistaken for markup. Once the place is found (or
``</head>``, the first body element or the look-ahead limit is reached), everything held is
released and the rest of the page passes through untouched. :attr:`HeadInjector.delta` then says
how many bytes were added, so the middleware can keep ``Content-Length`` right.

Nothing past the look-ahead window is ever read. That is what lets :func:`usual_head_end` place
the tag in an ordinary page with a few searches instead of a scan, with the same result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Tags are read as the HTML tokenizer reads them (WHATWG HTML, 13.2.5.8 and 13.2.5.32-38): a tag
# name runs to whitespace, `/` or `>`; a quote opens an attribute value only right after `=` and is
# an ordinary character anywhere else, so `<img alt=5"x8>` ends at its first `>`. Reading every
# quote as an opening one ran such a tag on past its end, and the meta tag went into the middle of
# a later tag. HTML's whitespace is `[\t\n\f\r\x20]`. Possessive quantifiers (Python 3.11+): runs
# are taken whole, never backtracked into.
#: An attribute: its name, then `=` and a double-quoted, single-quoted or unquoted value (empty only
#: right before `>`), if any. ``{end}`` is where a quoted value may also stop: ``|\Z`` while a tag
#: may still be arriving; without it an unclosed quote leaves the attribute (and the tag) unmatched.
_ATTRIBUTE_SYNTAX = rb"""
    [^\t\n\f\r\x20/>] [^\t\n\f\r\x20/>=]*+
    (?: [\t\n\f\r\x20]*+ = [\t\n\f\r\x20]*+
        (?: "[^"]*+(?:"{end}) | '[^']*+(?:'{end}) | [^\t\n\f\r\x20>"'] [^\t\n\f\r\x20>]*+
          | (?=>{end}) )
    | (?![\t\n\f\r\x20]*=) )
"""

#: The next piece of markup, in one regular-expression search: a comment (ended by `-->` or `--!>`,
#: or at once by `<!-->` and `<!--->`), a declaration, processing instruction or other bogus comment
#: (`</` not followed by a letter runs to the next `>` too; `</>` is nothing), or a tag (quoted
#: attribute values may hold `>`). A piece cut off by the end of what has arrived so far matches one
#: of the `open_*` groups: wait for more. (An open comment holding a `>` used to be read as a
#: declaration ending there, so a page cut inside a comment was scanned inside it.)
_MARKUP = re.compile(
    rb"""
      <!--(?: -?> | .*?--!?> | (?P<open_comment>.*\Z) )
    | <(?:[!?]|/(?![A-Za-z])) (?P<decl>[^>]*) (?:>|(?P<open_decl>\Z))
    | <(?P<end>/?) (?P<name>[A-Za-z][^\t\n\f\r\x20/>]*+)
        (?: [\t\n\f\r\x20/]++ | """
    + _ATTRIBUTE_SYNTAX.replace(b"{end}", rb"|\Z")
    + rb""" )*+
        (?:>|(?P<open_tag>\Z))
    """,
    re.DOTALL | re.VERBOSE,
)
_INCOMPLETE = frozenset({"open_comment", "open_decl", "open_tag"})
#: A character of text that is not HTML whitespace (see HeadInjector._text_ends_head).
_TEXT = re.compile(rb"[^\t\n\f\r ]")
_ROBOTS = re.compile(b"robots")  # a literal search: faster than `in` on these sizes

#: A start tag's attributes, complete (the fast path does not wait for more).
_ATTRS = (
    rb"(?:[\t\n\f\r\x20/](?:[\t\n\f\r\x20/]++|"
    + _ATTRIBUTE_SYNTAX.replace(b"{end}", b"")
    + rb")*+)?"
)
#: The usual start of a page, up to and including `<head ...>`, for the fast path.
_USUAL_START = re.compile(
    rb"\s*(?:<!doctype[^>]*>\s*)?(?:<html" + _ATTRS + rb">\s*)?<head" + _ATTRS + rb">",
    re.IGNORECASE | re.VERBOSE,
)
_TAG_NAME = re.compile(rb"<(/?)([A-Za-z][^\t\n\f\r />]*)")
#: One attribute of a start tag: its name and its value, double-quoted, single-quoted or unquoted
#: (`name=` right before `>` has an empty value, which our directives may fill).
_ATTRIBUTE = re.compile(
    rb"""
    ([^\t\n\f\r\x20/>][^\t\n\f\r\x20/>=]*)
    (?: [\t\n\f\r\x20]*=[\t\n\f\r\x20]*
        (?: "([^"]*)" | '([^']*)' | ((?:[^\t\n\f\r\x20>"'][^\t\n\f\r\x20>]*)?) )
    )?
    """,
    re.VERBOSE,
)

#: Elements that may stand in <head>; any other element ends it.
_HEAD_ELEMENTS = frozenset(
    {b"meta", b"title", b"link", b"style", b"script", b"base", b"noscript", b"template", b"head"}
)
#: Elements whose content is raw text, never markup, with the pattern of their end tag.
_RAW_TEXT = {
    name: re.compile(rb"</" + name + rb"[\s/>]", re.IGNORECASE)
    for name in (b"script", b"style", b"title", b"textarea")
}

#: A comment or raw-text element starting, and what ends each (lower case), for usual_head_end.
_RAW_TEXT_START = re.compile(rb"<(!--|script|style|title|textarea)")
_RAW_TEXT_END = {b"!--": re.compile(b"-->"), **_RAW_TEXT}

_FIND_ANCHOR, _IN_HEAD = 0, 1


def meta_tag(directives: tuple[str, ...], name: str = "robots") -> bytes:
    return f'<meta name="{name}" content="{", ".join(directives)}">'.encode("ascii")


class HeadTags:
    """What a page's head gets: the robots meta, merged with the page's own if it has one, and
    other metas (``tdm-reservation``, ``pinterest``...), each added only when the page has no meta
    of that name, so a page never says a thing twice (or two different things).
    """

    __slots__ = ("block", "directives", "names", "others")

    def __init__(
        self,
        directives: tuple[str, ...],
        others: tuple[tuple[str, str], ...] = (),
        names: re.Pattern[bytes] | None = None,
    ) -> None:
        self.directives = directives
        #: (lower-case name, whole tag) of each other meta.
        self.others = tuple(
            (name.lower().encode("ascii"), meta_tag((content,), name)) for name, content in others
        )
        #: All the tags, for a head that has none of them.
        self.block = (meta_tag(directives) if directives else b"") + b"".join(
            tag for _, tag in self.others
        )
        #: A search for any of the names in lower-case markup (see :func:`usual_head_end`); a
        #: caller whose pages get different metas passes one search for all of them.
        self.names = names if names is not None else names_pattern(n for n, _ in self.others)

    def __bool__(self) -> bool:
        return bool(self.block)


def names_pattern(others: Iterable[bytes]) -> re.Pattern[bytes]:
    """A search for "robots" or any of the ``others`` meta names (lower case)."""
    names = sorted(set(others) - {b"robots"})
    if not names:
        return _ROBOTS
    return re.compile(b"|".join([b"robots", *(re.escape(name) for name in names)]))


def usual_head_end(
    data: bytes, lookahead: int, complete: bool, names: re.Pattern[bytes] = _ROBOTS
) -> int | None:
    """Where the tag goes in the common page, found without scanning: the injector's fast path.

    It answers when ``data`` starts the usual way (doctype, ``<html>``, ``<head>``) and no robots
    meta (nor a meta of one of the other ``names``) can be in the head to merge with: then the
    scan would put the tags in this same place, right after ``<head>``. That is known in one of
    two ways:

    * the head visibly ends: ``</head>`` follows within the window, the word "robots" (nor a
      name) does not occur before it, and it is not inside a comment, ``<script>``,
      ``<style>``, ``<title>`` or ``<textarea>`` (each opened in the head is closed before it) or
      a tag. This needs only the
      head, so it works on the first chunk of a page that is still streaming;
    * the word "robots" does not occur anywhere in the look-ahead window, which then has to be
      all there (or the page complete).

    Otherwise, or in markup contrived to look otherwise (a quoted attribute value holding both
    ``>`` and ``</head>``), it returns None and the scan decides.
    """
    return _usual_head_end(data, lookahead, complete, names)[0]


def _usual_head_end(
    data: bytes, lookahead: int, complete: bool, names: re.Pattern[bytes]
) -> tuple[int | None, int]:
    """:func:`usual_head_end`, and how many bytes of ``data`` the answer depends on (0: all)."""
    start = _USUAL_START.match(data, 0, lookahead)
    if start is None:
        return None, 0
    head_end = start.end()
    close = data.find(b"</head", head_end, lookahead)
    if close >= 0:
        head = data[head_end:close].lower()
        if names.search(head) is None and _visibly_closed(head):
            return head_end, close + len(b"</head")
    if not complete and len(data) < lookahead:
        return None, 0
    window = data if len(data) <= lookahead else data[:lookahead]
    if names.search(window.lower(), head_end):
        return None, 0
    return head_end, 0


class HeadEndMemory:
    """:func:`usual_head_end` with a memory, for pages that are served again and again.

    When the head visibly ends, the answer depends only on the bytes up to ``</head``; so the
    last answer for each key (a path) is kept with those bytes, and a page that begins with the
    same bytes gets the same answer after one comparison instead of a search. At most ``size``
    keys and heads of at most ``max_head`` bytes are kept.
    """

    def __init__(
        self,
        lookahead: int,
        *,
        size: int = 1024,
        max_head: int = 8192,
        names: re.Pattern[bytes] = _ROBOTS,
    ) -> None:
        self.lookahead = lookahead
        self.names = names
        self.size = size
        self.max_head = max_head
        self._known: dict[str, tuple[bytes, int]] = {}

    def find(self, key: str, data: bytes, complete: bool) -> int | None:
        known = self._known.get(key)
        if known is not None and data.startswith(known[0]):
            return known[1]
        offset, depends_on = _usual_head_end(data, self.lookahead, complete, self.names)
        if offset is not None and 0 < depends_on <= self.max_head:
            if known is None and len(self._known) >= self.size:
                del self._known[next(iter(self._known))]  # the oldest key
            self._known[key] = (data[:depends_on], offset)
        return offset


def _visibly_closed(head: bytes) -> bool:
    """Whether the end of ``head`` (lower-cased markup) is outside any comment, raw text or tag.

    It walks from one comment or raw-text element to the next, each skipped to its end as the
    scan would; one that is still open at the end leaves the question to the scan.
    """
    if head.rfind(b"<") > head.rfind(b">"):
        return False
    pos = 0
    while (opened := _RAW_TEXT_START.search(head, pos)) is not None:
        closed = _RAW_TEXT_END[opened.group(1)].search(head, opened.end())
        if closed is None:
            return False
        pos = closed.end()
    return True


class HeadInjector:
    """One page's injector: feed it body chunks, then call :meth:`finish`."""

    # The scanner's state starts at these class-level values, so that making an injector (one per
    # HTML response the fast path could not place) sets only what __init__ sets.
    _pos = 0
    _phase = _FIND_ANCHOR
    _doctype = False
    _html_end: int | None = None
    _insert_at: int | None = None
    _robots_meta: tuple[int, int] | None = None
    _seen: frozenset[bytes] = frozenset()  # names of the other metas the head has
    _window = 0  # how far into the held bytes the scan may read
    #: True once the page has been decided; from then on chunks pass straight through.
    done = False
    #: Bytes added to the page (0 when it was left alone).
    delta = 0

    def __init__(self, tags: HeadTags | tuple[str, ...], max_lookahead: int = 16384) -> None:
        if not isinstance(tags, HeadTags):
            tags = HeadTags(tags)
        self._tags = tags
        self._limit = max_lookahead
        self._buf = bytearray()

    # -- public ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Take the next chunk; return what may be sent on now (possibly nothing)."""
        if self.done:
            return data
        if not self._buf:
            fast = self._fast_path(data)
            if fast is not None:
                return fast
        self._buf += data
        self._scan(final=False)
        if not self.done and len(self._buf) >= self._limit:
            self._decide_now()
        return self._release() if self.done else b""

    def finish(self) -> bytes:
        """The page has ended: decide with what was seen and return everything still held."""
        if not self.done:
            self._scan(final=True)
            if not self.done:
                self._decide_now()
        return self._release()

    def _fast_path(self, data: bytes) -> bytes | None:
        tags = self._tags
        offset = usual_head_end(data, self._limit, False, tags.names)
        if offset is None:
            return None
        self.done = True
        self.delta = len(tags.block)
        return data[:offset] + tags.block + data[offset:]

    # -- scanning -------------------------------------------------------------------------

    def _scan(self, final: bool) -> None:
        """Read markup from the held bytes, never past the look-ahead window."""
        buf = self._buf
        window = self._window = min(len(buf), self._limit)
        while not self.done:
            markup = _MARKUP.search(buf, self._pos, window)
            if markup is None:
                # Nothing more; keep a trailing `<` or `</` that the next chunk may complete.
                tail = buf[max(0, window - 2) : window]
                end = window - (2 if tail == b"</" else 1 if tail.endswith(b"<") else 0)
                if not self._text_ends_head(end):
                    self._pos = end
                return
            start = markup.start()
            if self._text_ends_head(start):
                return
            self._pos = start
            if markup.lastgroup in _INCOMPLETE:
                if not final:
                    return  # wait for the rest of it
                self._pos = len(buf)
                return
            name = markup.group("name")
            if name is None:  # a comment, doctype or processing instruction
                if (
                    markup.group("decl") is not None
                    and markup.group("decl")[:7].lower() == b"doctype"
                ):
                    self._doctype = True
                self._pos = markup.end()
                continue
            if markup.group("end"):
                self._on_end_tag(name.lower(), markup.end())
            elif not self._on_start_tag(name.lower(), start, markup.end(), final):
                return  # the element's raw text is not complete yet

    def _text_ends_head(self, end: int) -> bool:
        """Decide the page when the text up to ``end`` ends its head; True if it did.

        A browser ends the head at text that is not whitespace (WHATWG HTML 13.2.6.4.4, "anything
        else"), so a robots meta after it is in the body: one of ours goes in before the text.
        Text before any anchor is a fragment's, unless a doctype or ``<html>`` came first.
        """
        text = _TEXT.search(self._buf, self._pos, end)
        if text is None:
            return False
        if self._phase == _FIND_ANCHOR:
            if self._html_end is None and not self._doctype:
                return False
            if self._html_end is None:
                self._insert_at = text.start()
        self._decide_now()
        return True

    def _on_start_tag(self, name: bytes, start: int, end: int, final: bool) -> bool:
        """Handle a start tag; False when more bytes are needed to get past it."""
        if self._phase == _FIND_ANCHOR:
            if name == b"html":
                self._html_end = end
                self._pos = end
                return True
            if name == b"head":
                self._insert_at = end
                self._phase = _IN_HEAD
                self._pos = end
                return True
            if self._html_end is None and not self._doctype:
                self.done = True  # a fragment, not a document: leave it alone
                return True
            self._insert_at = self._html_end if self._html_end is not None else start
            self._phase = _IN_HEAD  # this element opens the implied head
        if name not in _HEAD_ELEMENTS:
            self._decide_now()
            return True
        if name == b"meta":
            meta_name = _meta_name(bytes(self._buf[start:end]))
            if meta_name == b"robots":
                if self._robots_meta is None:
                    self._robots_meta = (start, end)
            elif meta_name is not None:
                self._seen |= {meta_name}
        closing = _RAW_TEXT.get(name)
        if closing is None:
            self._pos = end
            return True
        # Raw text runs to its end tag whatever the start tag says (`<script/>` included).
        found = closing.search(self._buf, end, self._window)
        close_end = self._buf.find(b">", found.start(), self._window) if found is not None else -1
        if close_end < 0:
            if final:
                self._decide_now()
                return True
            return False
        self._pos = close_end + 1
        return True

    def _on_end_tag(self, name: bytes, end: int) -> None:
        if name == b"head" and self._phase == _IN_HEAD:
            self._decide_now()
            return
        if name in (b"html", b"body"):
            # A browser closes the head here (making one first if need be) and then the body:
            # whatever follows goes into the body or hangs from the document, never into the
            # head. After `<html>` ours goes in right after it (a later `<html>` must not carry
            # it past this tag); before any anchor no place is left, so the page is left alone.
            if self._phase == _IN_HEAD or self._html_end is not None:
                self._decide_now()
            else:
                self.done = True
            return
        self._pos = end

    # -- deciding -------------------------------------------------------------------------

    def _decide_now(self) -> None:
        if self._insert_at is None and self._html_end is not None:
            self._insert_at = self._html_end
        tags = self._tags
        insert_at = self._insert_at
        if self._robots_meta is None and not self._seen:
            if insert_at is not None:
                self._buf[insert_at:insert_at] = tags.block
                self.delta = len(tags.block)
            self.done = True
            return
        added = 0
        if self._robots_meta is not None and tags.directives:
            start, end = self._robots_meta
            merged = _merge_meta(bytes(self._buf[start:end]), tags.directives)
            self._buf[start:end] = merged
            added = len(merged) - (end - start)
        elif tags.directives and insert_at is not None:
            own = meta_tag(tags.directives)
            self._buf[insert_at:insert_at] = own
            added = len(own)
            insert_at += len(own)
        # The robots meta found lies after the insertion point, so the point has not moved.
        missing = b"".join(tag for name, tag in tags.others if name not in self._seen)
        if missing and insert_at is not None:
            self._buf[insert_at:insert_at] = missing
            added += len(missing)
        self.delta = added
        self.done = True

    def _release(self) -> bytes:
        out = bytes(self._buf)
        self._buf = bytearray()
        return out


_Attribute = tuple[bytes, bytes | None, tuple[int, int] | None]


def _attributes(tag: bytes) -> list[_Attribute]:
    """(lower-case name, value, span of the value) for each attribute of a start tag."""
    name_end = _TAG_NAME.match(tag)
    body_start = name_end.end() if name_end else 0
    result: list[_Attribute] = []
    for match in _ATTRIBUTE.finditer(tag, body_start, len(tag) - 1):
        for group in (2, 3, 4):
            if match.group(group) is not None:
                result.append((match.group(1).lower(), match.group(group), match.span(group)))
                break
        else:
            result.append((match.group(1).lower(), None, None))
    return result


def _meta_name(tag: bytes) -> bytes | None:
    """The lower-case ``name`` of a meta tag, or None."""
    for name, value, _ in _attributes(tag):
        if name == b"name" and value is not None:
            return value.strip().lower()
    return None


def _merge_meta(tag: bytes, directives: tuple[str, ...]) -> bytes:
    """The robots meta ``tag`` with the missing ``directives`` added to its content."""
    for name, value, span in _attributes(tag):
        if name != b"content" or value is None or span is None:
            continue
        text = value.decode("latin-1")
        present = {part.strip().lower() for part in text.split(",")}
        missing = [d for d in directives if d.lower() not in present]
        if not missing:
            return tag
        kept = text.strip().rstrip(",").strip()
        merged = (f"{kept}, " if kept else "") + ", ".join(missing)
        start, end = span
        if tag[start - 1 : start] not in (b'"', b"'"):
            # An unquoted value may hold a quote (`content=a"b`): written as a character reference
            quoted = merged.replace('"', "&quot;").encode("latin-1")
            return tag[:start] + b'"' + quoted + b'"' + tag[end:]
        return tag[:start] + merged.encode("latin-1") + tag[end:]
    close = len(tag) - 2 if tag.endswith(b"/>") else len(tag) - 1
    addition = f' content="{", ".join(directives)}"'.encode("ascii")
    return tag[:close].rstrip() + addition + tag[close:]
