"""Who a User-Agent says it is: a known agent, a browser, a self-declared bot, or nothing useful.

The hot path, for a User-Agent not seen before, costs about ten microseconds:

1. one Aho-Corasick pass over the lower-cased string finds any token of the crawler database
   (~1 us); a hit decides;
2. otherwise ua-parser's Rust resolver reads browser, OS and device (~10 us), and user-agents'
   rules on that result tell a real browser (``is_pc``, ``is_mobile``...) from a crawler
   (``is_bot``). ``user_agents.parse`` itself would cost about a millisecond per new string, which a
   flood of never-repeating User-Agents would turn into an outage.

Results are kept in a bounded LRU cache, so repeated User-Agents cost a dictionary look-up. Strings
longer than :data:`MAX_CACHED_LENGTH` are never cached (they are rare, and caching them would let a
client fill memory), and only the first :data:`MAX_SCAN_LENGTH` characters are ever read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ua_parser
import user_agents.parsers as ua_rules

from ..agents import Agent, AgentDB
from ..categories import Category

#: Characters of a User-Agent that are ever looked at; real ones are a few hundred long.
MAX_SCAN_LENGTH = 4096
#: Longest User-Agent kept in the cache, and longest that can still be a browser.
MAX_CACHED_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Verdict:
    """Who a request is, and why noaiguard thinks so."""

    category: Category
    agent: Agent | None = None
    #: The User-Agent token that identified ``agent``.
    token: str | None = None
    reasons: tuple[str, ...] = ()
    #: For browsers and self-declared bots: what ua-parser read ("Firefox 72 on Ubuntu").
    client: str = ""

    @property
    def agent_name(self) -> str | None:
        return self.agent.name if self.agent is not None else None


class _ParsedUserAgent(ua_rules.UserAgent):  # type: ignore[misc]
    """user-agents' classification rules, fed by ua-parser's fast resolver instead of its own."""

    def __init__(self, ua: str, result: ua_parser.Result) -> None:
        self.ua_string = ua
        browser, os, device = result.user_agent, result.os, result.device
        self.browser = (
            ua_rules.parse_browser(browser.family, browser.major, browser.minor, browser.patch)
            if browser
            else ua_rules.parse_browser("Other")
        )
        self.os = (
            ua_rules.parse_operating_system(os.family, os.major, os.minor, os.patch, os.patch_minor)
            if os
            else ua_rules.parse_operating_system("Other")
        )
        self.device = (
            ua_rules.parse_device(device.family, device.brand, device.model)
            if device
            else ua_rules.parse_device("Other", None, None)
        )


@functools.cache
def _ua_parser() -> ua_parser.Parser:
    """ua-parser's compiled rule set: immutable, built once per process (~0.15 s)."""
    return ua_parser.Parser(ua_parser.BestAvailableResolver(ua_parser.load_builtins()))


def describe(ua: str) -> ua_rules.UserAgent:
    """Browser, OS and device of a User-Agent, as a ``user_agents.UserAgent``."""
    return _ParsedUserAgent(ua, _ua_parser().parse(ua[:MAX_CACHED_LENGTH]))


def _client_text(parsed: ua_rules.UserAgent) -> str:
    browser = f"{parsed.browser.family} {parsed.browser.version_string}".strip()
    os = f"{parsed.os.family} {parsed.os.version_string}".strip()
    kind = "mobile" if parsed.is_mobile else "tablet" if parsed.is_tablet else "pc"
    return f"{browser} on {os} ({kind})" if parsed.os.family != "Other" else browser


class UserAgentClassifier:
    """Turns a User-Agent string into a :class:`Verdict`; owns its cache."""

    def __init__(self, agents: AgentDB, cache_size: int = 8192) -> None:
        self._agents = agents
        self._cached = functools.lru_cache(maxsize=cache_size)(self._classify)
        _ua_parser()  # build it now: the first browser must not wait 0.15 s for it

    def __call__(self, ua: str) -> Verdict:
        if len(ua) > MAX_CACHED_LENGTH:
            return self._classify(ua)
        return self._cached(ua)

    def cache_info(self) -> functools._CacheInfo:
        return self._cached.cache_info()

    def _classify(self, ua: str) -> Verdict:
        if not ua.strip():
            return Verdict(Category.UNKNOWN, reasons=("no User-Agent",))
        hit = self._agents.match_user_agent(ua[:MAX_SCAN_LENGTH].lower())
        if hit is not None:
            agent, token = hit
            return Verdict(
                agent.category,
                agent=agent,
                token=token,
                reasons=(f"User-Agent names {agent.name} ({agent.category})",),
            )
        if len(ua) > MAX_CACHED_LENGTH:
            return Verdict(
                Category.UNKNOWN,
                reasons=(f"User-Agent is {len(ua)} characters long; browsers send a few hundred",),
            )
        if not ua.isprintable():
            return Verdict(Category.UNKNOWN, reasons=("User-Agent contains control characters",))
        parsed = describe(ua)
        client = _client_text(parsed)
        if parsed.is_bot:
            return Verdict(
                Category.UNKNOWN_BOT,
                reasons=(
                    f"User-Agent declares a crawler ({parsed.browser.family}) not in the database",
                ),
                client=client,
            )
        if parsed.browser.family == "Other" or not ua.startswith(("Mozilla/", "Opera/")):
            return Verdict(
                Category.UNKNOWN,
                reasons=("User-Agent is neither a known agent nor a browser",),
                client="" if parsed.browser.family == "Other" else client,
            )
        return Verdict(Category.BROWSER, reasons=(f"browser: {client}",), client=client)
