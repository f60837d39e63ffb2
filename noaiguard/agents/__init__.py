"""The crawler database: who an agent is, what it is for, and how to recognise it.

The data lives in ``agents/data/*.yaml`` (see the README there), ships inside the package, and is
loaded once per :class:`~noaiguard.guard.Guard`. :class:`AgentDB` validates it (unknown categories,
duplicate names or tokens, generic tokens that would match unrelated User-Agents) and compiles every
User-Agent token into one :class:`~noaiguard.agents.matcher.TokenMatcher`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml

from .._yamlbind import Binder
from ..categories import RUNTIME_CATEGORIES, Category
from ..errors import ConfigError, ConfigIssue
from .matcher import TokenMatcher

__all__ = ["Agent", "AgentDB", "Respect", "Verification", "load_agent_file"]

#: Words that say nothing about who is asking; as tokens they must take the product form ``word/``.
GENERIC_WORDS = frozenset(
    {
        "agent",
        "ai",
        "android",
        "app",
        "apple",
        "archive",
        "bot",
        "browser",
        "check",
        "client",
        "code",
        "compatible",
        "crawl",
        "crawler",
        "cursor",
        "data",
        "feed",
        "fetch",
        "fetcher",
        "firefox",
        "gecko",
        "go",
        "google",
        "http",
        "https",
        "image",
        "images",
        "index",
        "indexer",
        "java",
        "khtml",
        "like",
        "line",
        "link",
        "linux",
        "mobile",
        "monitor",
        "mozilla",
        "news",
        "node",
        "operator",
        "ping",
        "preview",
        "python",
        "reader",
        "request",
        "requests",
        "research",
        "rss",
        "ruby",
        "safari",
        "scraper",
        "search",
        "spider",
        "test",
        "user",
        "version",
        "web",
        "webkit",
        "windows",
    }
)

#: Bare alphanumeric tokens shorter than this must take the product form ``Token/``.
MIN_BARE_TOKEN = 6

_PRODUCT_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]+( [A-Za-z0-9_.\-]+)*$")
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")


class Respect(StrEnum):
    """What is publicly known about an agent obeying robots.txt."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


def _check_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        return f"expected an http(s) URL, got {value!r}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """How an operator lets a site check that a request claiming its crawler is genuine."""

    rdns: tuple[str, ...] = ()
    ip_ranges: str | None = field(default=None, metadata={"check": _check_url})

    def _problems(self) -> Iterator[tuple[str, str]]:
        for suffix in self.rdns:
            if not _DOMAIN.match(suffix):
                yield "rdns", f"{suffix!r} is not a lower-case domain suffix like googlebot.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    """One crawler, fetcher, tool or service, as the database describes it."""

    name: str
    category: Category
    operator: str = ""
    ua: tuple[str, ...] = ()
    robots: tuple[str, ...] = ()
    robots_only: bool = False
    respects_robots: Respect = Respect.UNKNOWN
    verify: Verification | None = None
    docs: str | None = field(default=None, metadata={"check": _check_url})
    note: str = ""

    def _problems(self) -> Iterator[tuple[str, str]]:
        if self.category in RUNTIME_CATEGORIES:
            yield "category", f"{self.category} is decided at run time and cannot be given here"
        if self.robots_only and self.ua:
            yield "ua", "a robots-only token never appears in a User-Agent; remove the ua tokens"
        if not self.ua and not self.robots:
            yield "ua", "give User-Agent tokens, robots.txt tokens or both"
        if self.robots_only and not self.robots:
            yield "robots", "a robots-only agent needs its robots.txt token"
        for token in self.ua:
            message = ua_token_problem(token)
            if message:
                yield "ua", message
        for token in self.robots:
            if not _PRODUCT_TOKEN.match(token):
                yield "robots", f"{token!r} is not a robots.txt product token"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentFile:
    """The shape of one ``agents/data/*.yaml`` file."""

    operator: str = ""
    agents: tuple[Agent, ...] = ()


def ua_token_problem(token: str) -> str | None:
    """Why ``token`` would match User-Agents it should not, or None when it is safe."""
    bare = token.rstrip("/")
    if token != token.strip() or not bare:
        return f"{token!r} must not be empty or start or end with spaces"
    if len(token) < 4:
        return f"{token!r} is too short to identify anyone"
    if token.endswith("/"):
        return None
    if bare.lower() in GENERIC_WORDS:
        return (
            f"{token!r} is a common word; write it as {bare + '/'!r} to match only the product form"
        )
    if bare.isalnum() and len(bare) < MIN_BARE_TOKEN:
        return f"{token!r} is short enough to occur by chance; write it as {bare + '/'!r}"
    return None


@dataclass(frozen=True, slots=True)
class _Located:
    agent: Agent
    source: str
    line: int
    column: int
    key: str


def load_agent_file(text: str, source: str) -> list[_Located]:
    """Bind one data file; raise :class:`ConfigError` with every problem in it."""
    binder = Binder(source)
    node = binder.compose(text)
    data = binder.bind_document(AgentFile, node)
    items = _agent_nodes(node)
    located = []
    for index, agent in enumerate(data.agents):
        where = items[index].start_mark if index < len(items) else None
        line, column = (where.line + 1, where.column + 1) if where else (1, 1)
        if not agent.operator:
            if not data.operator:
                binder.issue(
                    items[index] if index < len(items) else None,
                    f"agents[{index}]",
                    f"{agent.name}: no operator; set it here or at the top of the file",
                )
                continue
            agent = replace(agent, operator=data.operator)  # noqa: PLW2901 (fill in the default)
        located.append(_Located(agent, source, line, column, f"agents[{index}]"))
    if binder.issues:
        raise ConfigError(binder.issues)
    return located


def _agent_nodes(node: yaml.Node | None) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "agents" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
    return []


def _builtin_files() -> list[tuple[str, str]]:
    folder = resources.files(__package__) / "data"
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".yaml")),
        key=lambda entry: entry.name,
    )
    return [(f"noaiguard/agents/data/{entry.name}", entry.read_text("utf-8")) for entry in files]


class AgentDB:
    """Every known agent, indexed by name, by User-Agent token and by robots.txt token."""

    def __init__(self, agents: Sequence[Agent]) -> None:
        self.agents: tuple[Agent, ...] = tuple(agents)
        self._by_name = {agent.name.lower(): agent for agent in self.agents}
        ua_tokens = {token.lower(): agent for agent in self.agents for token in agent.ua}
        self._matcher = TokenMatcher(ua_tokens)
        self._by_robots_token = {
            token.lower(): agent for agent in self.agents for token in agent.robots
        }

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def load(cls, extra: Iterable[Agent] = (), files: Iterable[Path] | None = None) -> AgentDB:
        """The built-in database (or ``files``) plus ``extra`` agents from a site's config.

        An extra agent with the name of a built-in one replaces it, so a site can change an
        agent's category or tokens; every other clash is an error.
        """
        sources = (
            _builtin_files()
            if files is None
            else [(str(path), path.read_text("utf-8")) for path in files]
        )
        issues: list[ConfigIssue] = []
        located: list[_Located] = []
        for source, text in sources:
            try:
                located.extend(load_agent_file(text, source))
            except ConfigError as exc:
                issues.extend(exc.issues)
        extra = list(extra)
        replaced = {agent.name.lower() for agent in extra}
        located = [item for item in located if item.agent.name.lower() not in replaced]
        located.extend(_Located(agent, "<config>", 1, 1, "agents.extra") for agent in extra)
        issues.extend(_clashes(located))
        if issues:
            raise ConfigError(issues)
        return cls([item.agent for item in located])

    # -- look-ups -------------------------------------------------------------------------

    def get(self, name: str) -> Agent | None:
        """The agent called ``name`` (case-insensitive)."""
        return self._by_name.get(name.lower())

    def names(self) -> list[str]:
        return [agent.name for agent in self.agents]

    def match_user_agent(self, lowered: str) -> tuple[Agent, str] | None:
        """The agent whose token best matches a lower-cased User-Agent, and that token."""
        return self._matcher.find(lowered)

    def by_robots_token(self, token: str) -> Agent | None:
        return self._by_robots_token.get(token.lower())

    def in_categories(self, categories: Iterable[Category]) -> list[Agent]:
        wanted = set(categories)
        return [agent for agent in self.agents if agent.category in wanted]

    def __len__(self) -> int:
        return len(self.agents)

    def __iter__(self) -> Iterator[Agent]:
        return iter(self.agents)


def _clashes(located: list[_Located]) -> list[ConfigIssue]:
    """Duplicate names and tokens across every file, each reported where it appears again."""
    issues = []
    seen: dict[tuple[str, str], _Located] = {}
    for item in located:
        keys = [("name", item.agent.name)]
        keys += [("ua", token.rstrip("/")) for token in item.agent.ua]
        keys += [("robots", token) for token in item.agent.robots]
        for kind, value in dict.fromkeys(keys):
            first = seen.setdefault((kind, value.lower()), item)
            if first is item:
                continue
            if kind != "name" and first.agent.name == item.agent.name:
                continue  # the same agent may use one token for both ua and robots
            issues.append(
                ConfigIssue(
                    item.source,
                    item.line,
                    item.column,
                    f"{item.key}.{kind}",
                    f"{value!r} of {item.agent.name} is already used by {first.agent.name} "
                    f"({first.source}:{first.line})",
                )
            )
    return issues
