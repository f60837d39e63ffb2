"""The configuration: one YAML file, bound to frozen dataclasses and validated in one pass.

Every section below is a dataclass whose field defaults are the built-in behaviour, so an empty file
(or ``Config()``) is a complete, sensible configuration. :func:`load_config` reports every problem
as ``path:line:col: dotted.key: message``; unknown keys come with a did-you-mean.

The library never reads the environment; the command line may expand ``${VAR}`` before loading.
"""

from __future__ import annotations

import ipaddress
import os
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import yaml

from . import privacy
from ._yamlbind import Binder, suggest
from .agents import Agent, AgentDB
from .categories import Category
from .errors import ConfigError, ConfigIssue
from .origin import Origin
from .paths import glob_problem
from .stamping.vocabulary import CODES as DATA_MINING_CODES

__all__ = [
    "AgentsConfig",
    "BlockResponse",
    "Config",
    "EmailConfig",
    "HtmlMetaConfig",
    "MetricsConfig",
    "Mode",
    "NetworkConfig",
    "PolicyConfig",
    "PolicyRule",
    "ProxyConfig",
    "ProxyLimits",
    "ProxyTimeouts",
    "ReportConfig",
    "RobotsTxtConfig",
    "SignalsConfig",
    "SmtpSecurity",
    "StoreConfig",
    "XRobotsRule",
    "XRobotsTagConfig",
    "load_config",
    "parse_config",
]


class Mode(StrEnum):
    """``enforce`` acts on decisions; ``monitor`` records what it would do and blocks nothing."""

    ENFORCE = "enforce"
    MONITOR = "monitor"


class Action(StrEnum):
    """What the policy does with a request."""

    ALLOW = "allow"  # serve it, count it
    LOG = "log"  # serve it, record an event
    TARPIT = "tarpit"  # hold the connection for a while, then refuse it; record an event
    BLOCK = "block"  # refuse it with the block response, record an event


#: Directives noaiguard may add. It never adds noindex, nofollow or none: leaving search is the
#: site owner's call, made in the app, and img2dataset already honours noai and noimageai.
OPT_OUT_DIRECTIVES = ("noai", "noimageai", "noml", "noarchive", "nocache")

_CONTENT_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/(?:\*|[a-z0-9!#$&^_.+-]+)$")
_METHOD = re.compile(r"^[A-Z]+$")


def _check_directives(value: tuple[str, ...]) -> str | None:
    for directive in value:
        if directive.lower() not in OPT_OUT_DIRECTIVES:
            return (
                f"{directive!r} is not an AI opt-out directive; use "
                + ", ".join(OPT_OUT_DIRECTIVES)
                + suggest(directive.lower(), OPT_OUT_DIRECTIVES)
            )
    if len({d.lower() for d in value}) != len(value):
        return "a directive is listed twice"
    return None


def _check_paths(value: tuple[str, ...]) -> str | None:
    for pattern in value:
        problem = glob_problem(pattern)
        if problem:
            return problem
    return None


def _check_content_types(value: tuple[str, ...]) -> str | None:
    for pattern in value:
        if not _CONTENT_TYPE.match(pattern):
            return f"{pattern!r} is not a content type like 'text/html' or 'image/*'"
    return None


def _check_methods(value: tuple[str, ...]) -> str | None:
    for method in value:
        if not _METHOD.match(method):
            return f"{method!r} is not an HTTP method in capitals, like GET"
    return None


def _positive(value: float) -> str | None:
    return None if value > 0 else f"expected a number above zero, got {value}"


def _check_networks(value: tuple[str, ...]) -> str | None:
    for entry in value:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return f"{entry!r} is not an IP address or network like 10.0.0.0/8"
    return None


def _check_status(value: int) -> str | None:
    return None if 400 <= value <= 599 else f"expected a 4xx or 5xx status, got {value}"


def _check_store_url(value: str) -> str | None:
    scheme = urlsplit(value).scheme
    if scheme not in STORE_SCHEMES:
        known = ", ".join(f"{s}://" for s in STORE_SCHEMES)
        return f"unknown store {value!r}; expected a URL starting with {known}"
    return None


def _check_ip_privacy(value: str) -> str | None:
    if value not in privacy.MODES:
        return f"unknown value {value!r}; expected one of {', '.join(privacy.MODES)}"
    return None


IP_HASH_KEY_ENVIRONMENT = "NOAIGUARD_IP_HASH_KEY"


def _check_counters_url(value: str) -> str | None:
    if urlsplit(value).scheme not in ("memory", "redis", "rediss", "unix"):
        return f"unknown counter store {value!r}; expected memory:// or redis://host:port/db"
    return None


#: Event store URL schemes this version understands.
STORE_SCHEMES = ("memory", "sqlite", "postgresql", "postgres")


# -- policy ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRule:
    """A rule of ``policy.rules``: when every given condition holds, ``action`` applies.

    Conditions left empty match everything: ``{paths: ["/press/**"], action: allow}`` lets every
    client into the press kit.
    """

    action: Action
    paths: tuple[str, ...] = field(default=(), metadata={"check": _check_paths})
    agents: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()
    methods: tuple[str, ...] = field(default=(), metadata={"check": _check_methods})
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockResponse:
    """What a blocked client receives."""

    status: int = field(default=403, metadata={"check": _check_status})
    body: str = (
        "This site does not permit automated collection of its content for AI training or "
        "datasets.\n"
    )
    content_type: str = "text/plain; charset=utf-8"

    def _problems(self) -> Iterator[tuple[str, str]]:
        if len(self.body.encode()) > 65536:
            yield "body", "keep the block body under 64 KiB"


@dataclass(frozen=True, slots=True, kw_only=True)
class TarpitConfig:
    """A tarpit holds a client's request open for ``seconds``, then sends the block response.

    At most ``max_concurrent`` requests are held at once; beyond that, clients are blocked at
    once, so a tarpit can never tie up the server.
    """

    seconds: float = field(default=10.0, metadata={"check": _positive})
    max_concurrent: int = 32

    def _problems(self) -> Iterator[tuple[str, str]]:
        if not 1 <= self.max_concurrent <= 10_000:
            yield "max_concurrent", "expected between 1 and 10000"
        if self.seconds > 300:
            yield "seconds", "keep a tarpit under 300 seconds"


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyConfig:
    """Who gets what. Precedence, first match wins:

    1. ``rules``, in file order;
    2. ``agents``: an action for one named agent;
    3. ``categories``: an action for a category (overrides the built-in defaults);
    4. the built-in default of the category (see :data:`noaiguard.policy.DEFAULT_ACTIONS`).
    """

    categories: Mapping[Category, Action] = field(default_factory=lambda: MappingProxyType({}))
    agents: Mapping[str, Action] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[PolicyRule, ...] = ()
    block: BlockResponse = BlockResponse()
    tarpit: TarpitConfig = TarpitConfig()


# -- signals --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class XRobotsRule:
    """Different ``X-Robots-Tag`` directives for some paths or content types (first match wins)."""

    directives: tuple[str, ...] = field(metadata={"check": _check_directives})
    paths: tuple[str, ...] = field(default=(), metadata={"check": _check_paths})
    content_types: tuple[str, ...] = field(default=(), metadata={"check": _check_content_types})

    def _problems(self) -> Iterator[tuple[str, str]]:
        if not self.paths and not self.content_types:
            yield "paths", "give paths, content_types or both"


@dataclass(frozen=True, slots=True, kw_only=True)
class XRobotsTagConfig:
    """The ``X-Robots-Tag`` response header, merged with whatever the app sends."""

    enabled: bool = True
    directives: tuple[str, ...] = field(
        default=("noai", "noimageai"), metadata={"check": _check_directives}
    )
    rules: tuple[XRobotsRule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HtmlMetaConfig:
    """``<meta name="robots">`` injected into the ``<head>`` of HTML pages while they stream."""

    enabled: bool = True
    #: Directives for the tag; empty means "the same as x_robots_tag.directives".
    directives: tuple[str, ...] = field(default=(), metadata={"check": _check_directives})
    exclude_paths: tuple[str, ...] = field(default=(), metadata={"check": _check_paths})
    #: How many bytes to scan for <head> before giving up and passing the page on unchanged.
    max_lookahead: int = 16384

    def _problems(self) -> Iterator[tuple[str, str]]:
        if not 256 <= self.max_lookahead <= 1_048_576:
            yield "max_lookahead", "expected between 256 and 1048576 bytes"


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotsTxtConfig:
    """``/robots.txt``: a group for every AI agent the policy blocks, merged with the app's own."""

    enabled: bool = True
    #: Read the app's own /robots.txt through the app and keep its groups and Sitemap lines.
    merge_app: bool = True
    #: How long the app's robots.txt is reused before it is read again.
    app_cache_seconds: float = field(default=300.0, metadata={"check": _positive})
    #: Comment lines at the top of the file (each line gets a leading "# ").
    comment: str = (
        "This site does not permit the use of its content for training AI models.\n"
        "Its opt-out is served by noaiguard as robots.txt rules, X-Robots-Tag headers and HTML\n"
        "meta tags."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PreferenceSignalConfig:
    """Cloudflare's Content Signals (``search=yes, ai-train=no``), derived from the policy (see
    noaiguard.signals.preferences) and written into every group of robots.txt."""

    enabled: bool = True


def _check_tdm_location(value: str) -> str | None:
    if not value.startswith("/"):
        return "expected a path pattern starting with / (robots.txt syntax: * and $ allowed)"
    if any(c.isspace() for c in value):
        return "spaces must be written %20"
    return None


def _check_policy_url(value: str) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "expected an absolute http(s) URL"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class TdmRule:
    """One rule of ``/.well-known/tdmrep.json``, before the catch-all rule the policy implies."""

    location: str = field(metadata={"check": _check_tdm_location})
    #: Whether text and data mining rights are reserved there (tdm-reservation 1 or 0).
    reservation: bool = True
    #: The TDM policy (a licence offer) for this location: an absolute URL.
    policy: str = field(default="", metadata={"check": _check_policy_url})


@dataclass(frozen=True, slots=True, kw_only=True)
class TdmRepConfig:
    """W3C TDMRep: ``/.well-known/tdmrep.json``, saying text and data mining rights are reserved
    (EU Directive 2019/790, Art. 4) wherever the policy refuses AI training."""

    enabled: bool = True
    #: Also send ``tdm-reservation`` (and ``tdm-policy``) on every response, as the file says.
    header: bool = True
    #: The site's TDM policy (a licence offer, absolute URL), named with the reservation.
    policy_url: str = field(default="", metadata={"check": _check_policy_url})
    #: Rules for some paths, first match wins, before the catch-all "/" rule.
    rules: tuple[TdmRule, ...] = ()
    #: Also put ``<meta name="tdm-reservation">`` (and ``tdm-policy``) into HTML pages, as the
    #: header says. Off by default: the spec asks publishers for one technique, and the header
    #: is on every response; it is for pages that are saved and travel without their headers.
    html_meta: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AiTxtConfig:
    """Spawning's ``/ai.txt``: which files datasets may not use."""

    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentUsageConfig:
    """The IETF AI-preferences statement (``train-ai=n, search=y``), derived from the policy:
    a ``Content-Usage:`` line in every robots.txt group and, with ``header``, a response header."""

    enabled: bool = True
    header: bool = True
    #: Paths whose responses get no ``Content-Usage`` header.
    exclude_paths: tuple[str, ...] = field(default=(), metadata={"check": _check_paths})


def _check_agent_tokens(value: tuple[str, ...]) -> str | None:
    for token in value:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", token):
            return f"{token!r} is not a robots.txt product token (letters, digits, _ . -)"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtrasConfig:
    """Opt-out signals that are off by default, each with a cost or a catch said where it is."""

    #: ``noml`` next to ``noai, noimageai`` in X-Robots-Tag and the robots meta.
    noml: bool = False
    #: ``noarchive``: Bing reads it as "not for Copilot answers or Microsoft's model training",
    #: but it also removes the page's cached copy from Bing (and Google) results.
    noarchive: bool = False
    #: Crawler tokens that also get a line of their own: ``X-Robots-Tag: img2dataset: noai``.
    agent_lines: tuple[str, ...] = field(default=(), metadata={"check": _check_agent_tokens})
    #: ``<meta name="pinterest" content="nopin">``: images cannot be pinned (and re-hosted) from
    #: the site's pages; pinning is also how many artists get shared.
    nopin: bool = False

    def directives(self) -> tuple[str, ...]:
        """The directives these extras add to every X-Robots-Tag and robots meta."""
        return (("noml",) if self.noml else ()) + (("noarchive",) if self.noarchive else ())


def _check_data_mining(value: str) -> str | None:
    if value not in DATA_MINING_CODES:
        return f"unknown value {value!r}" + suggest(value, sorted(DATA_MINING_CODES))
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageStampConfig:
    """IPTC ``plus:DataMining`` written into JPEG, PNG and WebP responses as they pass, so the
    opt-out travels with an image that leaves the site. Off by default: it changes the bytes of
    the site's images (their pixels never), which an owner should choose; files can also be
    stamped once at rest with ``noaiguard stamp``."""

    enabled: bool = False
    #: The PLUS Data Mining code written.
    value: str = field(
        default="DMI-PROHIBITED-AIMLTRAINING", metadata={"check": _check_data_mining}
    )
    #: Larger images pass unstamped (a size without a stamp costs nothing to send on).
    max_mb: float = field(default=32.0, metadata={"check": _positive})
    #: How much of an image's header may be held while looking for where the stamp goes.
    max_hold_kb: int = 256
    #: Memory for the stamps of images served again, so each is planned once (0: plan every time).
    cache_mb: float = 16.0

    def _problems(self) -> Iterator[tuple[str, str]]:
        if not 16 <= self.max_hold_kb <= 65536:
            yield "max_hold_kb", "expected between 16 and 65536"
        if not 0 <= self.cache_mb <= 4096:
            yield "cache_mb", "expected between 0 and 4096"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalsConfig:
    x_robots_tag: XRobotsTagConfig = XRobotsTagConfig()
    html_meta: HtmlMetaConfig = HtmlMetaConfig()
    robots_txt: RobotsTxtConfig = RobotsTxtConfig()
    #: ``Content-Usage: train-ai=n, search=y`` (IETF AI preferences).
    content_usage: ContentUsageConfig = ContentUsageConfig()
    #: ``Content-Signal: search=yes, ai-train=no`` (Cloudflare's Content Signals).
    content_signal: PreferenceSignalConfig = PreferenceSignalConfig()
    tdmrep: TdmRepConfig = TdmRepConfig()
    ai_txt: AiTxtConfig = AiTxtConfig()
    extras: ExtrasConfig = ExtrasConfig()
    stamp_images: ImageStampConfig = ImageStampConfig()


# -- the rest -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentsConfig:
    """Additions to the built-in crawler database, and the classification cache."""

    #: Agents in the format of ``noaiguard/agents/data/*.yaml``; a built-in name is replaced.
    extra: tuple[Agent, ...] = ()
    #: Distinct User-Agents whose classification is kept in memory.
    cache_size: int = 8192
    #: Check that a request claiming a verifiable crawler comes from its operator's addresses.
    verify: bool = True
    #: Also check by forward-confirmed reverse DNS, in the background (for operators that
    #: publish only DNS names, and for addresses outside a published list).
    verify_rdns: bool = True
    rdns_timeout: float = field(default=2.0, metadata={"check": _positive})
    #: Where `noaiguard agents update` keeps downloaded IP range lists ("": the user's data
    #: folder, ~/.local/share/noaiguard/ipranges); the lists shipped with noaiguard are the
    #: fallback.
    ip_ranges_dir: str = ""

    def _problems(self) -> Iterator[tuple[str, str]]:
        if not 0 <= self.cache_size <= 1_000_000:
            yield "cache_size", "expected between 0 and 1000000"
        for index, agent in enumerate(self.extra):
            if not agent.operator:
                yield "extra", f"extra[{index}] ({agent.name}): give its operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkConfig:
    """Where client addresses come from."""

    #: Proxies (addresses or networks) whose X-Forwarded-For is believed. Empty: trust no one.
    trusted_proxies: tuple[str, ...] = field(default=(), metadata={"check": _check_networks})


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """Where events go. Writes happen on a background thread, never on the request path."""

    url: str = field(default="sqlite:///./noaiguard.db", metadata={"check": _check_store_url})
    #: Events waiting for the writer; when full, new events are counted as dropped and logged.
    queue_size: int = 10000
    batch_size: int = 500
    flush_seconds: float = field(default=1.0, metadata={"check": _positive})
    #: Seconds between attempts to reach a store that failed.
    retry_seconds: float = field(default=2.0, metadata={"check": _positive})
    #: Where batches wait while the store is unreachable (one file per process).
    spill_dir: str = "./noaiguard-spill"
    spill_max_mb: int = 100
    #: What is stored of a client address: full, truncate (/24, /48) or hash (HMAC with a key).
    ip_privacy: str = field(default="truncate", metadata={"check": _check_ip_privacy})
    #: The secret for ip_privacy: hash; empty means the NOAIGUARD_IP_HASH_KEY environment variable.
    ip_hash_key: str = ""
    #: Events and roll-ups older than this are deleted (daily and by `noaiguard prune`); 0: never.
    retention_days: int = 180
    #: Where rate counters are shared between instances: memory:// (this process) or redis://.
    counters_url: str = field(default="memory://", metadata={"check": _check_counters_url})
    #: Seconds between merges of this instance's counts with the shared ones.
    counters_sync_seconds: float = field(default=1.0, metadata={"check": _positive})

    def _problems(self) -> Iterator[tuple[str, str]]:
        if self.queue_size < 1:
            yield "queue_size", "expected at least 1"
        if self.batch_size < 1:
            yield "batch_size", "expected at least 1"
        if self.spill_max_mb < 0:
            yield "spill_max_mb", "expected 0 (no spill file) or more"
        if self.retention_days < 0:
            yield "retention_days", "expected 0 (keep everything) or more"
        if self.ip_privacy == "hash" and not self.hash_key:
            yield (
                "ip_hash_key",
                (f"ip_privacy: hash needs a secret key here or in ${IP_HASH_KEY_ENVIRONMENT}"),
            )

    @property
    def hash_key(self) -> str:
        """The key for ip_privacy: hash, from the file or the environment."""
        return self.ip_hash_key or os.environ.get(IP_HASH_KEY_ENVIRONMENT, "")


def _check_upstream(value: str) -> str | None:
    if not value:
        return None
    try:
        Origin.parse(value)
    except ValueError as exc:
        return str(exc)
    return None


def _check_host_header(value: str) -> str | None:
    if not value or any(ch.isspace() or ch in "/@" for ch in value):
        return f"expected preserve, upstream or a host name, got {value!r}"
    return None


def _check_health_path(value: str) -> str | None:
    return glob_problem(value) if value else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyTimeouts:
    """Seconds the proxy waits on the upstream (a slow upstream gets a 504, a dead one a 502),
    and on its clients."""

    connect: float = field(default=5.0, metadata={"check": _positive})
    read: float = field(default=60.0, metadata={"check": _positive})
    write: float = field(default=60.0, metadata={"check": _positive})
    pool: float = field(default=10.0, metadata={"check": _positive})
    #: A client's whole request head must arrive within this (slow-loris clients get a 408).
    client_header: float = field(default=20.0, metadata={"check": _positive})
    #: A request body that stops arriving for this long ends with a 408.
    client_body: float = field(default=60.0, metadata={"check": _positive})


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyLimits:
    """The proxy's connection pool to the upstream."""

    max_connections: int = 100
    max_idle: int = 100
    idle_seconds: float = field(default=30.0, metadata={"check": _positive})

    def _problems(self) -> Iterator[tuple[str, str]]:
        if self.max_connections < 1:
            yield "max_connections", "expected at least 1"
        if self.max_idle < 0:
            yield "max_idle", "expected 0 or more"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyConfig:
    """``noaiguard proxy``: the site it stands in front of, and how it talks to it."""

    #: The site, as ``http(s)://host:port``; ``noaiguard proxy --upstream`` overrides it.
    upstream: str = field(default="", metadata={"check": _check_upstream})
    #: ``preserve`` the client's Host header, send the ``upstream``'s, or send this host name.
    host_header: str = field(default="preserve", metadata={"check": _check_host_header})
    #: The site's public host names. A request in absolute form (``GET http://host/...``, as sent
    #: to forward proxies) for any other host is refused; with none listed, all such are refused.
    hosts: tuple[str, ...] = ()
    timeouts: ProxyTimeouts = ProxyTimeouts()
    limits: ProxyLimits = ProxyLimits()
    #: Larger request bodies get 413; 0 means no limit.
    max_request_bytes: int = 0
    #: Answered by noaiguard itself: 200 when the upstream answers, 503 when not. "" turns it off.
    health_path: str = field(default="/.noaiguard/health", metadata={"check": _check_health_path})
    #: Decompress gzip (and, with the brotli package, br) HTML from the upstream so that the meta
    #: tag can be injected, and compress it again with gzip. Off: compressed HTML is passed on
    #: untouched and only the header signals apply to it.
    reencode_html: bool = False

    def _problems(self) -> Iterator[tuple[str, str]]:
        if self.max_request_bytes < 0:
            yield "max_request_bytes", "expected 0 (no limit) or a number of bytes"


# -- behaviour -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BurstRule:
    """Too many requests from one client in the window."""

    enabled: bool = True
    requests: int = 600
    weight: int = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageBurstRule:
    """Many images and (almost) no pages, stylesheets or scripts: a dataset downloader."""

    enabled: bool = True
    images: int = 60
    #: Pages (HTML, CSS, JS) per image below which the client is not browsing.
    max_page_ratio: float = 0.02
    weight: int = 90


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkBurstRule:
    """Too many requests from one network (/24, /64): a scraper spread over addresses."""

    enabled: bool = True
    requests: int = 3000
    weight: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotsViolationRule:
    """A client fetched robots.txt, then asked for a path it disallows for that client.

    A known agent is blocked (and its violation recorded with the robots.txt version it read); a
    browser is at most logged, because a person may read robots.txt and then follow a link.
    """

    enabled: bool = True
    weight: int = 80
    #: How long after fetching robots.txt a client is held to it.
    remember_seconds: int = 86400


def _check_trap_path(value: str) -> str | None:
    if not value.startswith("/") or any(c in value for c in ' *$?#"<>'):
        return "expected a plain path starting with /, such as /all-originals/"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrapRule:
    """An invisible link in every HTML page to a path robots.txt disallows for everyone.

    People never see it, screen readers skip it, crawlers that obey robots.txt never follow it;
    whoever asks for it ignores robots.txt and is blocked for ``flag_seconds``. Needs the
    robots.txt noaiguard serves (signals.robots_txt.enabled).
    """

    enabled: bool = True
    path: str = field(default="/all-originals/", metadata={"check": _check_trap_path})
    flag_seconds: int = 86400


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderAnomalies:
    """Signs of a script in a browser's clothes. Weights only: alone they never act."""

    enabled: bool = True
    #: Per sign: no Accept, no Accept-Language, HTTP/1.0 with a browser User-Agent.
    weight: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class BehaviourConfig:
    """Behaviour detection: rates per client and per network over a sliding window, scored.

    Weights add up; a score at ``log_score`` logs the client, at ``block_score`` blocks it and
    puts it in the penalty box for ``penalty_seconds``. Clients of ``exempt_categories`` (search
    engines, previews, feed readers ...) are not scored.
    """

    enabled: bool = True
    window_seconds: int = field(default=60, metadata={"check": _positive})
    #: Clients tracked at once; the least recently seen make room (about 160 bytes each).
    max_clients: int = 1_000_000
    max_networks: int = 200_000
    burst: BurstRule = BurstRule()
    image_burst: ImageBurstRule = ImageBurstRule()
    network_burst: NetworkBurstRule = NetworkBurstRule()
    robots_violation: RobotsViolationRule = RobotsViolationRule()
    trap: TrapRule = TrapRule()
    header_anomalies: HeaderAnomalies = HeaderAnomalies()
    log_score: int = 30
    #: A score from here up to block_score holds the client in the tarpit (policy.tarpit).
    tarpit_score: int = 70
    block_score: int = 80
    penalty_seconds: int = 600
    exempt_categories: tuple[Category, ...] = (
        Category.SEARCH_ENGINE,
        Category.SOCIAL_PREVIEW,
        Category.FEED_READER,
        Category.ARCHIVER,
        Category.MONITOR,
    )

    def _problems(self) -> Iterator[tuple[str, str]]:
        if self.max_clients < 1000:
            yield "max_clients", "expected at least 1000"
        if self.max_networks < 100:
            yield "max_networks", "expected at least 100"
        if not 0 < self.log_score <= self.tarpit_score <= self.block_score:
            yield "tarpit_score", "expected log_score <= tarpit_score <= block_score"
        if self.penalty_seconds < 0:
            yield "penalty_seconds", "expected 0 or more"


# -- metrics --------------------------------------------------------------------------------------

METRICS_TOKEN_ENVIRONMENT = "NOAIGUARD_METRICS_TOKEN"
#: A bearer token as RFC 6750 section 2.1 writes it (b64token): it goes into a header unquoted.
_BEARER_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


def _check_metrics_path(value: str) -> str | None:
    if not value:
        return None
    if not value.startswith("/") or any(c.isspace() or c in '*?#"<>' for c in value):
        return "expected a plain path starting with /, such as /.noaiguard/metrics"
    if value == "/robots.txt":
        return "robots.txt is served by noaiguard already; pick another path"
    return None


def _check_metrics_host(value: str) -> str | None:
    if not value or any(c.isspace() or c in "/@" for c in value):
        return f"expected an address or host name to listen on, such as 127.0.0.1, got {value!r}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    """Live metrics for Prometheus (the ``metrics`` extra). Off unless ``enabled``.

    Served in one of two ways: on the site's own port at ``path``, by the middleware, to scrapers
    that send ``Authorization: Bearer <token>``; or on a listener of its own at ``host:port``
    (loopback by default; a token there is optional). Several worker processes cannot share one
    ``port``; on a ``path`` each worker answers with its own counts.
    """

    enabled: bool = False
    #: Where the middleware answers with the metrics, e.g. /.noaiguard/metrics ("": nowhere).
    path: str = field(default="", metadata={"check": _check_metrics_path})
    #: A listener of its own for the metrics (GET /metrics), e.g. 9464 (0: none).
    port: int = 0
    host: str = field(default="127.0.0.1", metadata={"check": _check_metrics_host})
    #: The bearer token scrapers must send; empty means the NOAIGUARD_METRICS_TOKEN environment
    #: variable. Required with ``path``.
    token: str = ""

    def _problems(self) -> Iterator[tuple[str, str]]:
        if not 0 <= self.port <= 65535:
            yield "port", f"expected 1 to 65535 (or 0 for no listener), got {self.port}"
        if not self.enabled:
            return
        token = self.bearer_token
        if token and not _BEARER_TOKEN.match(token):
            where = "" if self.token else f" (from ${METRICS_TOKEN_ENVIRONMENT})"
            yield (
                "token",
                f"the token{where} may hold only letters, digits and -._~+/ (then = signs)",
            )
        if self.path and self.port:
            yield "port", "give path or port, not both"
        elif not self.path and not self.port:
            yield (
                "enabled",
                "give a path (served on the site's own port) or a port (a listener of its own)",
            )
        if self.path and not token:
            yield (
                "token",
                f"metrics on the site's own port need a token here or in "
                f"${METRICS_TOKEN_ENVIRONMENT}",
            )
        if self.port and not token and self.host not in ("127.0.0.1", "::1", "localhost"):
            yield (
                "token",
                f"a metrics listener on {self.host}, beyond this machine, needs a token here or "
                f"in ${METRICS_TOKEN_ENVIRONMENT}",
            )

    @property
    def bearer_token(self) -> str:
        """The token scrapers must send, from the file or the environment ("": none)."""
        return self.token or os.environ.get(METRICS_TOKEN_ENVIRONMENT, "")


# -- report ---------------------------------------------------------------------------------------

#: The environment variable the command line reads the SMTP password from when
#: report.email.password is empty (the library itself never reads the environment).
SMTP_PASSWORD_ENVIRONMENT = "NOAIGUARD_SMTP_PASSWORD"

#: The placeholders report.email.subject may use.
SUBJECT_FIELDS = ("site", "since", "until", "blocked")

_EMAIL_ADDRESS = re.compile(r"[^\s@<>,;\"]+@[^\s@<>,;\"]+")
_NAMED_EMAIL_ADDRESS = re.compile(r"[^<>@,;]*<([^<>]*)>")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def address_problem(text: str) -> str | None:
    """Why ``text`` is not an email address, or None.

    Accepts ``reports@example.org`` and ``noaiguard <reports@example.org>``. Loose on purpose:
    one ``@`` with something on either side and no spaces; the mail server judges the rest.
    """
    named = _NAMED_EMAIL_ADDRESS.fullmatch(text.strip())
    address = named.group(1).strip() if named else text
    if not _EMAIL_ADDRESS.fullmatch(address):
        return f"{text!r} is not an email address like reports@example.org"
    return None


def _check_sender(value: str) -> str | None:
    return address_problem(value) if value else None


def _check_recipients(value: tuple[str, ...]) -> str | None:
    for address in value:
        problem = address_problem(address)
        if problem:
            return problem
    return None


def _check_smtp_host(value: str) -> str | None:
    if not value or any(ch.isspace() or ch in "/@[]" for ch in value):
        return f"expected a host name or address, got {value!r}"
    if ":" in value:
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            return f"expected a host name or address, got {value!r} (the port goes in port)"
    return None


def _check_subject(value: str) -> str | None:
    if "\r" in value or "\n" in value:
        return "keep the subject on one line"
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as exc:
        return f"cannot read the template ({exc}); write a literal brace as {{{{ or }}}}"
    for _, name, spec, _ in parts:
        if name is None:
            continue
        if name not in SUBJECT_FIELDS or "{" in (spec or ""):
            fields = ", ".join("{" + f + "}" for f in SUBJECT_FIELDS)
            return f"unknown placeholder {{{name}}}; use {fields}" + suggest(name, SUBJECT_FIELDS)
    try:
        value.format(site="example.org", since="2025-01-06", until="2025-01-13", blocked=1234)
    except (ValueError, TypeError) as exc:
        return f"cannot fill in the template: {exc}"
    return None


def _check_site_name(value: str) -> str | None:
    if any(not ch.isprintable() for ch in value):
        return "keep the site name on one line, without control characters"
    if len(value) > 200:
        return "keep the site name under 200 characters"
    return None


class SmtpSecurity(StrEnum):
    """How the connection to the mail server is protected."""

    STARTTLS = "starttls"  # plain connection upgraded before login (RFC 3207); port 587
    SSL = "ssl"  # TLS from the first byte, "implicit TLS" (RFC 8314); port 465
    NONE = "none"  # no encryption: only for a relay on this machine; port 25


#: The port of each kind of security when report.email.port is 0 (RFC 8314 section 3.3, RFC 6409).
SMTP_PORTS = MappingProxyType(
    {SmtpSecurity.STARTTLS: 587, SmtpSecurity.SSL: 465, SmtpSecurity.NONE: 25}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailConfig:
    """How ``noaiguard report --email-to`` hands the report to a mail server (SMTP).

    The connection is never downgraded: with ``starttls`` a server that does not offer STARTTLS
    is an error, and the server's certificate is always verified.
    """

    host: str = field(default="localhost", metadata={"check": _check_smtp_host})
    #: 0: the usual port of ``security``: 587 for starttls, 465 for ssl, 25 for none.
    port: int = 0
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    #: Log in with this user name (SMTP AUTH, RFC 4954); empty: send without logging in.
    username: str = ""
    #: Empty: the NOAIGUARD_SMTP_PASSWORD environment variable, which keeps it out of the file.
    password: str = field(default="", repr=False)
    #: The From address: ``reports@example.org`` or ``noaiguard <reports@example.org>``.
    sender: str = field(default="", metadata={"check": _check_sender})
    #: Recipients when ``--email-to`` is not given.
    to: tuple[str, ...] = field(default=(), metadata={"check": _check_recipients})
    #: Placeholders: {site}, {since}, {until} (dates) and {blocked} (a number, e.g. {blocked:,}).
    subject: str = field(
        default="noaiguard report {site}: {since} to {until}, {blocked} blocked",
        metadata={"check": _check_subject},
    )
    #: Seconds to wait for the server at each step (connect, each reply).
    timeout: float = field(default=30.0, metadata={"check": _positive})
    #: CA certificates (a PEM file) to verify the server against instead of the system's, for a
    #: relay with a private CA; empty: the system's.
    ca_file: str = ""

    def _problems(self) -> Iterator[tuple[str, str]]:
        if not 0 <= self.port <= 65535:
            yield "port", "expected 1 to 65535, or 0 for the usual port of security"
        if self.password and not self.username:
            yield "password", "a password is only used with a username; give username too"
        if (
            self.username
            and self.security is SmtpSecurity.NONE
            and self.host.lower() not in _LOOPBACK_HOSTS
        ):
            yield (
                "security",
                f"security: none would send the password unencrypted to {self.host}; "
                "use starttls or ssl",
            )

    @property
    def server_port(self) -> int:
        """The port to connect to: ``port``, or the usual one of ``security`` when it is 0."""
        return self.port or SMTP_PORTS[self.security]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportConfig:
    """``noaiguard report``: the weekly summary of what reached the site, and its delivery."""

    #: The site's name in the report's title and the email subject, e.g. ``example.org``.
    site_name: str = field(default="", metadata={"check": _check_site_name})
    email: EmailConfig = EmailConfig()


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """A whole noaiguard configuration. ``Config()`` is the built-in default."""

    mode: Mode = Mode.ENFORCE
    policy: PolicyConfig = PolicyConfig()
    signals: SignalsConfig = SignalsConfig()
    agents: AgentsConfig = AgentsConfig()
    network: NetworkConfig = NetworkConfig()
    store: StoreConfig = StoreConfig()
    proxy: ProxyConfig = ProxyConfig()
    behaviour: BehaviourConfig = BehaviourConfig()
    metrics: MetricsConfig = MetricsConfig()
    report: ReportConfig = ReportConfig()
    #: Where this configuration came from (a file path, or "<defaults>").
    source: str = field(default="<defaults>", metadata={"yaml": False})


# -- loading --------------------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file; raise :class:`ConfigError` listing every problem."""
    source = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(source, 1, 1, "(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(source, 1, 1, "(file)", f"cannot read: {exc}")]) from None
    return parse_config(text, source)


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate YAML text as a config; ``source`` names it in error messages."""
    binder = Binder(source)
    node = binder.compose(text)
    if binder.issues:
        raise ConfigError(binder.issues)
    config: Config = binder.bind(Config, node, "")
    extra = config.agents.extra if isinstance(config, Config) else ()
    _check_agent_references(node, extra, binder)
    if binder.issues:
        raise ConfigError(sorted(binder.issues, key=lambda i: (i.line, i.column)))
    return replace(config, source=source)


def config_from_mapping(data: Mapping[str, Any], source: str) -> Config:
    """Validate a mapping with the keys of a YAML config file (Django's ``NOAIGUARD`` setting).

    It goes through the same validation as a file; problems name ``source`` and the key, without
    line numbers, which would point into a YAML text the user never wrote.
    """
    try:
        text = yaml.safe_dump(_plain(data, ()), sort_keys=False)
    except _NotPlain as exc:
        raise ConfigError([ConfigIssue(source, 0, 0, exc.key, exc.message)]) from None
    try:
        return parse_config(text, source)
    except ConfigError as exc:
        raise ConfigError([replace(issue, line=0, column=0) for issue in exc.issues]) from None


def config_warnings(config: Config) -> list[str]:
    """What a valid configuration does that its owner may not want, in plain words."""
    warnings = []
    if config.signals.extras.noarchive:
        warnings.append(
            f"{config.source}: signals.extras.noarchive: Bing reads noarchive as 'not for Copilot "
            "answers or training', but it also drops the cached copy of every page from Bing's "
            "and Google's results, and Bing may show them with less in its answers"
        )
    return warnings


class _NotPlain(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _plain(value: Any, at: tuple[str, ...]) -> Any:
    """``value`` as plain YAML data: paths become strings, tuples and sets lists."""
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlain(".".join(at) or "(top)", f"key {key!r} is not a string")
            plain[key] = _plain(item, (*at, key))
        return plain
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, at) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise _NotPlain(".".join(at) or "(top)", f"{type(value).__name__} is not a config value")


def _check_agent_references(
    root: yaml.Node | None, extra: tuple[Agent, ...], binder: Binder
) -> None:
    """Agent names in the policy must exist in the database (built-in plus ``agents.extra``).

    Checked on the YAML nodes, so unknown names are reported even when other parts of the file
    failed to bind.
    """
    try:
        db = AgentDB.load(extra)
    except ConfigError as exc:
        for issue in exc.issues:
            binder.issue(_find(root, ("agents", "extra")), "agents.extra", issue.message)
        return
    names = db.names()
    agents = _find(root, ("policy", "agents"), exact=True)
    if isinstance(agents, yaml.MappingNode):
        for key_node, _ in agents.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # reported by the binder: keys must be plain names
            name = str(key_node.value)
            if db.get(name) is None:
                binder.issue(
                    key_node, f"policy.agents.{name}", "unknown agent" + suggest(name, names)
                )
    rules = _find(root, ("policy", "rules"), exact=True)
    if isinstance(rules, yaml.SequenceNode):
        for index, rule in enumerate(rules.value):
            listed = _find(rule, ("agents",), exact=True)
            items = listed.value if isinstance(listed, yaml.SequenceNode) else [listed]
            for position, item in enumerate(items):
                if not isinstance(item, yaml.ScalarNode) or item.tag.endswith(":null"):
                    continue
                name = str(item.value)
                if db.get(name) is None:
                    binder.issue(
                        item,
                        f"policy.rules[{index}].agents[{position}]",
                        f"unknown agent {name!r}" + suggest(name, names),
                    )


def _find(
    node: yaml.Node | None, path: tuple[str | int, ...], exact: bool = False
) -> yaml.Node | None:
    """The node at ``path`` below ``node``; if missing, None (``exact``) or the deepest found."""
    for step in path:
        found = None
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            found = next((v for k, v in node.value if k.value == step), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value)
        ):
            found = node.value[step]
        if found is None:
            return None if exact else node
        node = found
    return node
