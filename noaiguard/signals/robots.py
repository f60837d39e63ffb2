"""robots.txt: groups for the AI agents the policy blocks, merged with the site's own file.

The groups are derived from the policy, so robots.txt and enforcement never disagree: every agent
whose robots.txt token is blocked by default gets ``Disallow: /``, and path rules that let it in
somewhere (a press kit, say) become ``Allow:`` lines. Agents with the same rules share one group.

The site's own robots.txt (RFC 9309) is outside input: it is read tolerantly, capped at 500 KiB, and
kept as written, groups, ``Sitemap:`` lines and comments included, except that a token we place in
one of our groups is taken out of the site's groups (and so is a name lenient parsers read as one,
``GPTBot/1.0`` or ``GPTBot*``), and that a line no parser may read into one of our groups is kept as
a comment: a rule before any User-agent line, and anything that is not a record here (lenient
parsers take ``User agent: GPTBot`` or ``Disallow /x`` for one). RFC 9309 parsers merge several
groups for one token, but first-match parsers (Python's ``urllib.robotparser`` among them) read
only the first, so every token stands in exactly one group.

First-match parsers also match a group's token as a *substring* of the crawler's name: a group for
``Diffbot`` would apply to ``Diffbot-User`` there, while RFC 9309 parsers pick the most specific
group. So every known or site-named token that contains one of ours, and is not blocked itself,
gets a group of its own *before* ours, with the rules it would otherwise have read (its group in the
site's file, or the site's ``*`` group). Generic words (``Spider``) are never emitted at all: in a
substring parser they would catch every crawler with the word in its name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..agents import GENERIC_WORDS, AgentDB
from ..config import Action, RobotsTxtConfig
from ..paths import glob_to_robots
from ..policy import Policy

#: RFC 9309 asks crawlers to read at least 500 KiB; we keep no more of the site's own file.
MAX_APP_ROBOTS_BYTES = 500 * 1024

#: Records that belong to a group (and end its run of User-agent lines, as in Protego).
_GROUP_RULES = frozenset(
    {
        "allow",
        "disallow",
        "crawl-delay",
        "content-usage",
        "content-signal",
        "request-rate",
        "visit-time",
        "clean-param",
    }
)
#: Every record kept from the site's file; any other line of it is kept as a comment (see
#: AppRobots.without).
_RECORDS = _GROUP_RULES | {"user-agent", "sitemap", "host"}
#: RFC 9309 (2.2) ends a line at CR, LF or CRLF only; ``str.splitlines``, and with it Protego and
#: urllib.robotparser, also at these. They are replaced in the site's lines, so that every parser
#: reads the file we serve as the same lines.
_LINE_END = re.compile(r"\r\n|\r|\n")
_OTHER_LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
#: The part of a User-agent value a lenient parser matches: Google's stops at the first character
#: a product token cannot hold (``GPTBot/1.0`` is GPTBot), Protego drops ``*`` (``GPTBot*`` is).
_PRODUCT_TOKEN = re.compile(r"[A-Za-z0-9_-]*")
_ALLOW_ALL = (("Allow", "/"),)
#: The records a group's path rules are made of (the trap's Disallow goes after the last one).
_PATH_RECORDS = frozenset({"user-agent", "allow", "disallow", "crawl-delay"})
#: Actions that refuse a crawler, so robots.txt tells it to stay away.
_REFUSED = frozenset({Action.BLOCK, Action.TARPIT})

Rules = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RobotsGroup:
    tokens: tuple[str, ...]
    #: (directive, value) pairs, most specific path first so that first-match parsers agree.
    rules: Rules

    def render(self, preferences: Sequence[tuple[str, str]] = ()) -> str:
        """The group, with the site's preference lines (``(record key, line)`` pairs) last."""
        lines = [f"User-agent: {token}" for token in self.tokens]
        lines += [f"{directive}: {value}" for directive, value in self.rules]
        stated = {directive.lower() for directive, _ in self.rules}
        lines += [line for key, line in preferences if key not in stated]
        return "\n".join(lines)


def specific_first(rules: Iterable[tuple[str, str]]) -> Rules:
    """Allow/Disallow rules with the longest path first, Allow before Disallow on a tie.

    RFC 9309 parsers pick the longest match whatever the order; first-match parsers read the rules
    in order, so this order makes both reach the same answer. Other records keep their place.
    """
    rules = list(rules)
    paths = [r for r in rules if r[0].lower() in ("allow", "disallow")]
    paths.sort(key=lambda r: (-len(r[1]), r[0].lower() != "allow"))
    ordered = iter(paths)
    return tuple(next(ordered) if r[0].lower() in ("allow", "disallow") else r for r in rules)


def build_groups(agents: AgentDB, policy: Policy) -> list[RobotsGroup]:
    """The robots.txt groups the policy implies, one per distinct set of rules."""
    by_rules: dict[Rules, list[str]] = {}
    for agent in agents:
        if not agent.robots:
            continue
        blocked, path_rules = policy.robots_rules(agent)
        if not blocked:
            continue
        rules = [
            ("Disallow" if action in _REFUSED else "Allow", glob_to_robots(glob))
            for action, glob in path_rules
        ]
        rules.append(("Disallow", "/"))
        ordered = tuple(sorted(dict.fromkeys(rules), key=lambda r: (-len(r[1]), r[0] != "Allow")))
        for token in agent.robots:
            if token.lower() not in GENERIC_WORDS:
                by_rules.setdefault(ordered, []).append(token)
    groups = [
        RobotsGroup(tuple(sorted(tokens, key=str.lower)), rules)
        for rules, tokens in by_rules.items()
    ]
    return sorted(groups, key=lambda g: (-len(g.tokens), g.tokens))


# -- the site's own robots.txt ----------------------------------------------------------------


def _split_record(line: str) -> tuple[str, str] | None:
    """``(lower-case key, value)`` of a robots.txt record line, or None for anything else."""
    content = line.split("#", 1)[0]
    if ":" not in content:
        return None
    key, value = content.split(":", 1)
    return key.strip().lower(), value.strip()


def _split_lines(text: str) -> list[str]:
    """The lines of a robots.txt as RFC 9309 ends them, with other line breaks made U+FFFD."""
    lines = _LINE_END.split(_OTHER_LINE_BREAKS.sub("\ufffd", text))
    if lines and not lines[-1]:
        lines.pop()  # the end of the last line, not an empty line after it
    return lines


def _read_as(token: str) -> str:
    """The product token (lower case) a lenient parser reads a User-agent value as."""
    match = _PRODUCT_TOKEN.match(token.replace("*", ""))
    return match.group().lower() if match else ""


def decode_app_robots(body: bytes) -> str:
    """The site's robots.txt as text: at most 500 KiB, whole lines, no BOM, bad bytes replaced."""
    text = body[:MAX_APP_ROBOTS_BYTES].decode("utf-8", errors="replace")
    if len(body) > MAX_APP_ROBOTS_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text.removeprefix("\ufeff")


@dataclass
class _AppGroup:
    tokens: list[str] = field(default_factory=list)
    rules: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class AppRobots:
    """The site's robots.txt, line by line, with the group each line belongs to."""

    #: (line as written, record key or None, record value, index of its group or -1)
    lines: list[tuple[str, str | None, str, int]]
    groups: list[_AppGroup]

    @classmethod
    def parse(cls, text: str) -> AppRobots:
        lines: list[tuple[str, str | None, str, int]] = []
        groups: list[_AppGroup] = []
        current = -1
        in_rules = True  # the next User-agent line opens a new group
        for line in _split_lines(text):
            record = _split_record(line)
            key = record[0] if record else None
            if record is not None and key == "user-agent":
                if in_rules:
                    groups.append(_AppGroup())
                    current, in_rules = len(groups) - 1, False
                groups[current].tokens.append(record[1])
                lines.append((line, key, record[1], current))
            elif record is not None and key in _GROUP_RULES:
                in_rules = True
                if current >= 0:
                    directive = "Content-Usage" if key == "content-usage" else key.title()
                    groups[current].rules.append((directive, record[1]))
                lines.append((line, key, record[1], current))
            else:
                lines.append((line, key, "", -1))
        return cls(lines, groups)

    def tokens(self) -> set[str]:
        return {t.lower() for group in self.groups for t in group.tokens if t and t != "*"}

    def rules_for(self, token: str) -> Rules:
        """The rules the site gives ``token``: its own groups, else ``*``, else allow all."""
        lowered = token.lower()
        own = [r for g in self.groups if lowered in (t.lower() for t in g.tokens) for r in g.rules]
        if own:
            return specific_first(own)
        star = [r for g in self.groups if "*" in g.tokens for r in g.rules]
        return specific_first(star) if star else _ALLOW_ALL

    def without(self, taken: Iterable[str], preferences: Sequence[tuple[str, str]] = ()) -> str:
        """The file with the User-agent lines of ``taken`` tokens removed.

        A group left without any User-agent line loses its rules too: they applied only to
        tokens that now have a group of ours. Each group kept gets the ``preferences`` lines
        (``(record key, line)`` pairs) it does not state itself, after its last rule: a group
        for one crawler replaces ``*`` entirely, so the preferences must be in every group.
        """
        taken_lower = {t.lower() for t in taken}
        kept_groups = {
            index
            for index, group in enumerate(self.groups)
            if any(t.lower() not in taken_lower for t in group.tokens)
        }
        # Each group's Allow/Disallow lines, most specific first, back into the same slots.
        reordered: dict[int, list[str]] = {}
        for index in kept_groups:
            rows = [
                (key, value, line)
                for line, key, value, g in self.lines
                if g == index and key in ("allow", "disallow")
            ]
            rows.sort(key=lambda row: (-len(row[1]), row[0] != "allow"))
            reordered[index] = [line for _, _, line in rows]
        # Where each kept group's last line is, and which preference lines it lacks.
        last_line: dict[int, int] = {}
        stated: dict[int, set[str]] = {}
        for position, (_, key, _, group) in enumerate(self.lines):
            if group in kept_groups:
                last_line[group] = position
                stated.setdefault(group, set()).add(key or "")
        missing = {
            group: [line for key, line in preferences if key not in stated.get(group, set())]
            for group in kept_groups
        }
        out = []
        for position, (line, key, token, group) in enumerate(self.lines):
            if key == "user-agent" and token.lower() in taken_lower:
                out.append(f"# noaiguard: {token} has its own group above")
            elif (key in _GROUP_RULES and group < 0) or (
                key not in _RECORDS and line.strip() and not line.lstrip().startswith("#")
            ):
                # Kept as a comment: a rule before any User-agent line (after our groups every
                # parser would read it as part of the last one), and a line that is no record
                # here but that lenient parsers may read as one (`User agent: GPTBot`,
                # `Disallow /x`), giving one of our groups its rules. Two bytes a line: the
                # file stays near the 500 KiB crawlers read.
                out.append(f"# {line}")
            elif key in _GROUP_RULES and group not in kept_groups:
                pass  # every token of this group has a group of ours now
            elif key in ("allow", "disallow") and group >= 0:
                out.append(reordered[group].pop(0))
            else:
                out.append(line)
            if group in kept_groups and last_line[group] == position:
                out += missing[group]
        return "\n".join(out).strip("\n")


# -- rendering --------------------------------------------------------------------------------


class RobotsTxt:
    """The robots.txt noaiguard serves; rendered once per distinct site robots.txt."""

    def __init__(
        self,
        agents: AgentDB,
        policy: Policy,
        config: RobotsTxtConfig,
        trap_path: str = "",
        preferences: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.config = config
        #: ``(record key, line)``: the site's AI-use preferences, written into every group.
        self.preferences = tuple(preferences)
        #: A path disallowed in every group: only a crawler that ignores robots.txt goes there.
        self.trap_path = trap_path
        self.groups = build_groups(agents, policy)
        self.tokens = tuple(token for group in self.groups for token in group.tokens)
        self._blocked = {token.lower() for token in self.tokens}
        # Names of agents we let in that a substring parser would read our groups for.
        names: dict[str, str] = {}
        for agent in agents:
            for token in (*agent.robots, *(t.rstrip("/") for t in agent.ua)):
                names.setdefault(token.lower(), token)
        self._known_names = names
        self._header = "\n".join(f"# {line}".rstrip() for line in config.comment.splitlines())
        self._last: tuple[bytes | None, bytes] | None = None

    def _shadowed(self, names: dict[str, str]) -> list[str]:
        """Names that contain one of our tokens without being blocked themselves."""
        return sorted(
            (
                display
                for lowered, display in names.items()
                if lowered not in self._blocked and any(b in lowered for b in self._blocked)
            ),
            key=str.lower,
        )

    def render(self, app_body: bytes | None = None) -> bytes:
        """Shadow groups, our groups, then the site's own rules (or allow-all without a file)."""
        last = self._last
        if last is not None and last[0] == app_body:
            return last[1]
        app = AppRobots.parse(decode_app_robots(app_body)) if app_body is not None else None
        names = dict(self._known_names)
        # The site's names for our tokens (`GPTBot/1.0`, `GPTBot*`): lenient parsers would add
        # their rules to our groups, so they go like our tokens themselves.
        aliases = []
        if app is not None:
            for group in app.groups:
                for token in group.tokens:
                    if token and token != "*":
                        if _read_as(token) in self._blocked:
                            aliases.append(token)
                        else:
                            names.setdefault(token.lower(), token)
        shadowed = self._shadowed(names)
        parts = [self._header] if self._header else []
        if shadowed:
            by_rules: dict[Rules, list[str]] = {}
            for name in shadowed:
                rules = app.rules_for(name) if app is not None else _ALLOW_ALL
                by_rules.setdefault(rules or _ALLOW_ALL, []).append(name)
            parts += [
                RobotsGroup(tuple(tokens), rules).render(self.preferences)
                for rules, tokens in by_rules.items()
            ]
        parts += [group.render(self.preferences) for group in self.groups]
        if app is None:
            parts.append(RobotsGroup(("*",), _ALLOW_ALL).render(self.preferences))
        else:
            own = app.without([*self.tokens, *shadowed, *aliases], self.preferences)
            if own:
                parts.append("# The site's own rules:\n" + own)
        text = "\n\n".join(parts) + "\n"
        if self.trap_path:
            text = disallow_everywhere(text, self.trap_path)
        rendered = text.encode("utf-8")
        self._last = (app_body, rendered)
        return rendered


def disallow_everywhere(text: str, path: str) -> str:
    """``text`` with ``Disallow: path`` added to every group, after the group's last path rule
    (before its preference lines, which read best last).

    Every group, because a crawler obeys only the group that names it: a trap disallowed in
    ``User-agent: *`` alone would catch a crawler the site gave a group of its own.
    """
    parsed = AppRobots.parse(text)
    last_line = {
        group: index
        for index, (_, key, _, group) in enumerate(parsed.lines)
        if group >= 0 and key in _PATH_RECORDS
    }
    # A group that disallows everything already keeps its crawlers out of the trap.
    after = {
        index: group
        for group, index in last_line.items()
        if ("Disallow", "/") not in parsed.groups[group].rules
    }
    out = []
    for index, (line, *_rest) in enumerate(parsed.lines):
        out.append(line)
        if index in after:
            out.append(f"Disallow: {path}")
    return "\n".join(out) + "\n"


@functools.lru_cache(maxsize=4096)
def _pattern(path_pattern: str) -> re.Pattern[str]:
    """A robots.txt path pattern as a regular expression: ``*`` any run, a final ``$`` the end."""
    anchored = path_pattern.endswith("$")
    body = path_pattern[:-1] if anchored else path_pattern
    return re.compile(".*".join(map(re.escape, body.split("*"))) + ("$" if anchored else ""))


def allows(rules: Rules, path: str) -> bool:
    """Whether ``rules`` let a crawler fetch ``path`` (RFC 9309: the longest matching rule wins,
    Allow on a tie; an empty Disallow allows everything)."""
    best_length, allowed = -1, True
    for directive, value in rules:
        kind = directive.lower()
        if kind not in ("allow", "disallow") or not value:
            continue
        if _pattern(value).match(path) and (
            len(value) > best_length or (len(value) == best_length and kind == "allow")
        ):
            best_length, allowed = len(value), kind == "allow"
    return allowed
