"""Guard: the engine. Built once from a validated Config; owns every part a request touches.

The front doors (the ASGI middleware today; the Django middleware and the proxy later) ask
:meth:`Guard.decide_by_user_agent` first, a cache look-up that answers while the decision depends
on the User-Agent alone; otherwise they turn the request into
:class:`~noaiguard.facts.RequestFacts` and call :meth:`Guard.inspect`. They act on the decision
and call :meth:`Guard.record` when the response is done. Deciding is synchronous and in memory;
``record`` only queues. There is no global state: two guards with different configs can live in
one process.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .agents import Agent, AgentDB
from .backends import EventStore, open_event_store
from .categories import Category
from .classify import Classifier, Verdict
from .classify.behaviour import Behaviour
from .classify.ipranges import default_data_dir
from .classify.useragent import MAX_CACHED_LENGTH
from .classify.verify import DNSResolver, Resolver, Verifier
from .clientip import TrustedProxies
from .config import Action, Config, config_warnings, load_config
from .counters import SharedCounters, open_counter_store
from .events import REQUEST, ROBOTS_FETCH, UPSTREAM_ERROR, Event, RobotsVersion
from .facts import RequestFacts
from .metrics import Metrics
from .paths import PathSet
from .periods import format_time
from .policy import Decision, Policy
from .privacy import anonymizer
from .signals.headers import XRobotsTag, merge_x_robots_tag, with_directives
from .signals.metas import PageTags
from .signals.preferences import Preferences, robots_lines
from .signals.robots import AppRobots, RobotsTxt, allows
from .signals.usage import UsageHeaders
from .signals.wellknown import OwnFile, own_files
from .sink import EventSink
from .tally import Tally

logger = logging.getLogger("noaiguard")
#: Clients remembered as having fetched robots.txt (the least recent are forgotten).
_MAX_ROBOTS_READERS = 100_000
decision_logger = logging.getLogger("noaiguard.decision")


class FastDecision(NamedTuple):
    """A decision made from the User-Agent alone, and what judging it involves."""

    decision: Decision
    #: The client claims a crawler whose addresses can be checked: judging checks them.
    verify: bool
    #: Behaviour detection counts this client's requests (it is not refused already, nor exempt).
    tracked: bool


class Guard:
    """Classification, policy, signals and the event sink for one configuration."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        store: EventStore | None = None,
        clock: Callable[[], float] = time.time,
        resolver: Resolver | None = None,
    ) -> None:
        self.config = config if config is not None else Config()
        self.agents = AgentDB.load(self.config.agents.extra)
        self.trusted_proxies = TrustedProxies(self.config.network.trusted_proxies)
        self.classifier = Classifier(self.agents, self.config.agents.cache_size)
        self.policy = Policy(self.config.policy, self.config.mode)
        signals = self.config.signals
        for warning in config_warnings(self.config):
            logger.warning("%s", warning)
        extras = signals.extras
        self.x_robots_tag = XRobotsTag(
            signals.x_robots_tag, extras.directives(), extras.agent_lines
        )
        html = signals.html_meta
        self.meta_directives: tuple[str, ...] = (
            with_directives(
                html.directives or tuple(signals.x_robots_tag.directives), extras.directives()
            )
            if html.enabled
            else ()
        )
        self.meta_excluded = PathSet(html.exclude_paths)
        trap = self.config.behaviour.trap
        #: The trap link's path ("" when off): it needs a robots.txt that disallows it.
        self.trap_path = (
            trap.path
            if trap.enabled and self.config.behaviour.enabled and signals.robots_txt.enabled
            else ""
        )
        #: The site's AI-use preferences, read off the policy (every vocabulary says these).
        self.preferences = Preferences.of(self.policy)
        self.robots = (
            RobotsTxt(
                self.agents,
                self.policy,
                signals.robots_txt,
                self.trap_path,
                robots_lines(self.preferences, signals),
            )
            if signals.robots_txt.enabled
            else None
        )
        #: Files answered by noaiguard itself besides robots.txt (tdmrep.json, ai.txt), by path.
        self.own_files = own_files(self.preferences, signals)
        #: tdm-reservation and Content-Usage for responses, as those files say for each path.
        self.usage_headers = UsageHeaders(self.preferences, signals)
        #: The meta tags of pages, by path: robots, and TDMRep and nopin when configured.
        self.page_tags = PageTags(
            self.meta_directives,
            self.usage_headers,
            tdm_meta=signals.tdmrep.enabled and signals.tdmrep.html_meta,
            nopin=extras.nopin,
        )
        store_config = self.config.store
        self.sink = EventSink(
            (lambda: store) if store is not None else (lambda: open_event_store(store_config.url)),
            queue_size=store_config.queue_size,
            batch_size=store_config.batch_size,
            flush_seconds=store_config.flush_seconds,
            retry_seconds=store_config.retry_seconds,
            spill_dir=store_config.spill_dir if store_config.spill_max_mb else None,
            spill_max_bytes=store_config.spill_max_mb * 1024 * 1024,
            anonymize=anonymizer(store_config.ip_privacy, store_config.hash_key),
            retention_seconds=store_config.retention_days * 86400,
            clock=clock,
        )
        #: Live counts for Prometheus (None when metrics are off: the middleware then skips them).
        self.metrics = (
            Metrics(self.config.metrics, self.sink) if self.config.metrics.enabled else None
        )
        agents_config = self.config.agents
        if agents_config.verify_rdns and resolver is None:
            try:
                resolver = DNSResolver(agents_config.rdns_timeout)
            except Exception as exc:  # no DNS configuration on this machine
                logger.warning("reverse DNS checks are off: %s", exc)
        ranges_dir = agents_config.ip_ranges_dir
        #: Checks of claimed crawlers against their operators' addresses (None when off).
        self.verifier = (
            Verifier(
                self.agents,
                data_dir=Path(ranges_dir) if ranges_dir else default_data_dir(),
                resolver=resolver if agents_config.verify_rdns else None,
            )
            if agents_config.verify
            else None
        )
        behaviour = self.config.behaviour
        #: Rate counters, shared with other instances through store.counters_url.
        self.counters = SharedCounters(
            open_counter_store(store_config.counters_url, expire_seconds=3600),
            window_seconds=behaviour.window_seconds,
            bucket_seconds=max(1, behaviour.window_seconds // 6),
            sync_seconds=store_config.counters_sync_seconds,
            clock=clock,
        )
        shared = not store_config.counters_url.startswith("memory:")
        #: What clients do over time (None when behaviour detection is off).
        self.behaviour = (
            Behaviour(behaviour, clock(), self.counters if shared else None)
            if behaviour.enabled
            else None
        )
        #: Every request, counted per hour for the reports' shares.
        self.tally = Tally(self.sink.put, clock=clock)
        self.clock = clock
        #: The robots.txt version last served: events carry it as evidence of what was in force.
        self.robots_version = ""
        self._robots_body = b""
        # Parsed robots.txt by version, and who fetched which version when (for violations).
        self._robots_rules: dict[str, AppRobots] = {}
        self._robots_readers: OrderedDict[str, tuple[str, float]] = OrderedDict()
        #: Content-Length of the last 200 response per path, filled by the response signals; a
        #: refused request's event gives the size it was refused (see Event.bytes_withheld).
        self.served_sizes: dict[str, bytes] = {}
        #: Without path or method rules a decision depends on the User-Agent alone, so the
        #: front doors' fast path can look it up by the raw header bytes: this cache does, for
        #: User-Agents of at most MAX_CACHED_LENGTH bytes (see :meth:`fast_decision`); None with
        #: rules.
        self.fast_decisions: Callable[[bytes], FastDecision] | None = (
            None
            if self.config.policy.rules
            else functools.lru_cache(maxsize=self.config.agents.cache_size)(self._fast_decision)
        )

    @classmethod
    def from_file(cls, path: str | Path, *, store: EventStore | None = None) -> Guard:
        """A guard for the YAML config at ``path`` (raises ConfigError if it is invalid)."""
        return cls(load_config(path), store=store)

    @classmethod
    def of(cls, config: str | os.PathLike[str] | Config | None) -> Guard:
        """A guard for what a front door's ``config`` argument may be: a YAML file's path, a
        Config, or None for the built-in defaults."""
        if config is None or isinstance(config, Config):
            return cls(config)
        return cls(load_config(os.fspath(config)))

    # -- the request path -----------------------------------------------------------------

    def classify(self, facts: RequestFacts) -> Verdict:
        """Who the request is, and why noaiguard thinks so."""
        return self.classifier.classify(facts)

    def inspect(self, facts: RequestFacts) -> Decision:
        """Classify the request and decide what to do with it. In memory, no I/O."""
        return self.policy.decide(self.classify(facts), facts.method, facts.path)

    def judge(
        self,
        decision: Decision,
        client_ip: str | None,
        path: str,
        headers: Sequence[tuple[bytes, bytes]] = (),
        *,
        http_version: str = "1.1",
        method: str = "GET",
    ) -> Decision:
        """What the client's address and behaviour add to a decision made from its User-Agent.

        A claim to be a verifiable crawler from an address its operator does not use becomes a
        ``spoofed-bot``. Then the request is counted in its client's behaviour, which may make
        the decision stricter, never milder; clients the policy blocks already, and clients of
        exempt categories (search engines, previews, feed readers ...), are not scored. The front
        doors call this once per request, after :meth:`inspect` or :meth:`decide_by_user_agent`.
        """
        if client_ip is None:
            return decision
        verdict = decision.verdict
        agent = verdict.agent
        if agent is not None and self._verifies(agent):
            assert self.verifier is not None
            check = self.verifier.check(agent, client_ip)
            if check is not None and not check.genuine:
                # The claimed agent stays in the verdict (reports list spoofs by the name they
                # used); the policy gives a spoofed-bot none of that agent's rules.
                spoofed = dataclasses.replace(
                    verdict,
                    category=Category.SPOOFED_BOT,
                    reasons=(*verdict.reasons, f"claims to be {agent.name}, but {check.reason}"),
                )
                return self.policy.decide(spoofed, method, path)
        behaviour = self.behaviour
        if behaviour is None:
            return decision
        if self.trap_path and path.startswith(self.trap_path):
            return self._trapped(decision, client_ip, path)
        if self._robots_readers:
            violation = self._robots_violation(verdict, client_ip, path)
            if violation is not None:
                return self._violated(decision, violation)
        if not self._tracks(decision):
            return decision
        finding = behaviour.observe(
            client_ip,
            path,
            self.clock(),
            headers=headers,
            http_version=http_version,
            browser=verdict.category is Category.BROWSER,
        )
        if finding is None:
            return decision
        config = behaviour.config
        if finding.score >= config.block_score:
            action = Action.BLOCK
        elif finding.score >= config.tarpit_score:
            action = Action.TARPIT  # (block and tarpit decisions never get here)
        elif finding.score >= config.log_score and decision.action is Action.ALLOW:
            action = Action.LOG
        else:
            return decision
        judged = dataclasses.replace(verdict, reasons=(*verdict.reasons, *finding.reasons))
        return Decision(action, judged, "behaviour", decision.enforced)

    def _robots_violation(self, verdict: Verdict, client_ip: str, path: str) -> str | None:
        """Why ``path`` breaks the robots.txt this client fetched, or None."""
        rule = self.config.behaviour.robots_violation
        read = self._robots_readers.get(client_ip)
        if read is None or not rule.enabled:
            return None
        version, fetched_at = read
        rules = self._robots_rules.get(version)
        if rules is None or self.clock() - fetched_at > rule.remember_seconds:
            return None
        agent = verdict.agent
        token = next(iter(agent.robots), agent.name) if agent is not None else "*"
        if allows(rules.rules_for(token), path):
            return None
        who = token if token != "*" else "every crawler (User-agent: *)"
        return (
            f"robots.txt violation: {path} is disallowed for {who} by the robots.txt this client "
            f"fetched at {format_time(fetched_at)} UTC (version {version[:12]})"
        )

    def _trapped(self, decision: Decision, client_ip: str, path: str) -> Decision:
        """Someone followed the invisible link robots.txt forbids to all: block them a while."""
        behaviour = self.behaviour
        assert behaviour is not None
        verdict = decision.verdict
        if verdict.category in behaviour.exempt:
            return decision  # a search engine that slipped: its own rules, not the trap's
        seconds = behaviour.config.trap.flag_seconds
        now = self.clock()
        behaviour.clients.flag(client_ip, now + seconds, now)
        reason = (
            f"followed the hidden trap link to {path}, which robots.txt disallows for every "
            f"crawler; blocked for {seconds} s"
        )
        judged = dataclasses.replace(verdict, reasons=(*verdict.reasons, reason))
        return Decision(Action.BLOCK, judged, "behaviour.trap", decision.enforced)

    def _violated(self, decision: Decision, violation: str) -> Decision:
        """The decision for a request that breaks robots.txt: blocked (a browser: logged)."""
        verdict = decision.verdict
        judged = dataclasses.replace(verdict, reasons=(*verdict.reasons, violation))
        if decision.action is Action.BLOCK:
            return decision._replace(verdict=judged)
        config = self.config.behaviour
        weight = config.robots_violation.weight
        if weight >= config.block_score and verdict.category is not Category.BROWSER:
            action = Action.BLOCK
        elif weight >= config.log_score:
            action = Action.LOG
        else:
            return decision._replace(verdict=judged)
        return Decision(action, judged, "behaviour.robots_violation", decision.enforced)

    def decide_by_user_agent(self, raw: bytes) -> Decision | None:
        """The decision for a raw User-Agent header, from a cache, when nothing else matters.

        This is the front doors' fast path: it answers only while the decision depends on the
        User-Agent alone (no path or method rules) and the header is of a cacheable size;
        otherwise it returns None and :meth:`inspect` decides from the full request facts.
        """
        fast = self.fast_decision(raw)
        return None if fast is None else fast.decision

    def fast_decision(self, raw: bytes) -> FastDecision | None:
        """:meth:`decide_by_user_agent`, with what :meth:`judge` will have to do for it worked
        out once per User-Agent too (one cache holds both); for the front doors' fast path (see
        :meth:`count_only`)."""
        cached = self.fast_decisions
        if cached is None or len(raw) > MAX_CACHED_LENGTH:
            return None
        return cached(raw)

    def _fast_decision(self, raw: bytes) -> FastDecision:
        decision = self.policy.decide(self.classifier.user_agent(raw.decode("latin-1")))
        agent = decision.verdict.agent
        return FastDecision(
            decision,
            verify=agent is not None and self._verifies(agent),
            tracked=self._tracks(decision),
        )

    def _verifies(self, agent: Agent) -> bool:
        """Whether judging checks the address of a client that claims to be ``agent``."""
        return agent.verify is not None and self.verifier is not None

    def _tracks(self, decision: Decision) -> bool:
        """Whether behaviour detection counts a client so decided: not one refused already, nor
        one of an exempt category (search engines, previews, feed readers ...)."""
        behaviour = self.behaviour
        return (
            behaviour is not None
            and decision.action not in (Action.BLOCK, Action.TARPIT)
            and decision.verdict.category not in behaviour.exempt
        )

    def count_only(self, fast: FastDecision, client_ip: str, path: str) -> bool:
        """Judge the request of a :class:`FastDecision` in the common case, where judging only
        counts it: True when :meth:`judge` would return the decision as it is, and the request
        has been counted (for a client behaviour counts); False when :meth:`judge` must decide,
        and nothing was counted.

        Only a client that claims a verifiable crawler, has fetched robots.txt, walks into the
        trap, or is at or near a behaviour limit needs more (see :meth:`judge`).
        """
        if fast.verify:
            return False
        if self._robots_readers and client_ip in self._robots_readers:
            return False
        if self.trap_path and path.startswith(self.trap_path):
            return False
        behaviour = self.behaviour
        if behaviour is None or not fast.tracked:
            return True
        return behaviour.count(client_ip, path, self.clock())

    def record(
        self,
        facts: RequestFacts,
        decision: Decision,
        *,
        status: int,
        bytes_sent: int = 0,
        x_robots_tag: str = "",
    ) -> None:
        """Queue an event for a decision that was not a plain allow, and log it."""
        if decision.action is Action.ALLOW:
            return
        verdict = decision.verdict
        withheld = b""
        if decision.effective_action in (Action.BLOCK, Action.TARPIT):
            withheld = self.served_sizes.get(facts.path, b"")
        event = self._event(
            facts,
            REQUEST,
            status=status,
            category=str(verdict.category),
            action=str(decision.action),
            bytes_sent=bytes_sent,
            bytes_withheld=int(withheld) if withheld.isdigit() else 0,
            agent=verdict.agent_name,
            enforced=decision.enforced,
            rule=decision.rule,
            reasons=verdict.reasons,
            x_robots_tag=x_robots_tag,
        )
        self.sink.put(event)
        if decision_logger.isEnabledFor(logging.INFO):
            decision_logger.info(
                "%s%s %s %s %s (%s; %s)",
                decision.action,
                "" if decision.enforced else " (monitor: not enforced)",
                verdict.agent_name or verdict.category,
                facts.method,
                facts.path,
                decision.rule,
                "; ".join(verdict.reasons),
                extra={
                    "action": str(decision.action),
                    "agent": verdict.agent_name,
                    "category": str(verdict.category),
                    "client_ip": facts.client_ip,
                    "path": facts.path,
                    "reason": "; ".join(verdict.reasons),
                },
            )

    def record_failure(
        self, facts: RequestFacts, decision: Decision | None, *, status: int, reason: str
    ) -> None:
        """Queue an event for a request noaiguard could not serve (an upstream that failed)."""
        verdict = decision.verdict if decision is not None else None
        self.sink.put(
            self._event(
                facts,
                UPSTREAM_ERROR,
                status=status,
                category=str(verdict.category) if verdict is not None else "unknown",
                action="error",
                agent=verdict.agent_name if verdict is not None else None,
                enforced=decision.enforced if decision is not None else True,
                rule=decision.rule if decision is not None else "",
                reasons=(reason,),
            )
        )

    def robots_served(
        self, facts: RequestFacts, body: bytes, *, status: int = 200, x_robots_tag: str = ""
    ) -> None:
        """robots.txt was served: keep its version, and when a known agent fetched it, an event.

        The version (the body's SHA-256) is computed once per distinct body. The event is the
        evidence that this agent read these rules at this time.
        """
        now = self.clock()
        if body != self._robots_body:
            self._robots_body = body
            self.robots_version = RobotsVersion.version_of(body)
            self._robots_rules[self.robots_version] = AppRobots.parse(
                body.decode("utf-8", "replace")
            )
            while len(self._robots_rules) > 8:
                self._robots_rules.pop(next(iter(self._robots_rules)))
        if facts.client_ip is not None:
            readers = self._robots_readers
            readers[facts.client_ip] = (self.robots_version, now)
            readers.move_to_end(facts.client_ip)
            while len(readers) > _MAX_ROBOTS_READERS:
                readers.popitem(last=False)
        text = body.decode("utf-8", "replace")
        self.sink.put(RobotsVersion(self.robots_version, text, now, now))
        verdict = self.classify(facts)
        self.tally.count(verdict.category, Action.ALLOW, status)
        if verdict.agent_name is None:
            return
        self.sink.put(
            self._event(
                facts,
                ROBOTS_FETCH,
                status=status,
                category=str(verdict.category),
                action=str(Action.ALLOW),
                bytes_sent=0 if facts.method == "HEAD" else len(body),
                agent=verdict.agent_name,
                reasons=verdict.reasons,
                x_robots_tag=x_robots_tag,
            )
        )

    def own_file(self, facts: RequestFacts) -> tuple[OwnFile, list[tuple[bytes, bytes]]]:
        """One of :attr:`own_files` for ``facts.path``, with its headers; the request counted."""
        file = self.own_files[facts.path]
        headers = file.headers()
        merge_x_robots_tag(headers, self.x_robots_tag.directives_for(facts.path, file.content_type))
        headers += self.usage_headers.for_path(facts.path)
        self.tally.count(self.classify(facts).category, Action.ALLOW, 200)
        return file, headers

    def _event(self, facts: RequestFacts, kind: str, **details: Any) -> Event:
        """An event about the request ``facts`` describe, now, under the robots.txt in force."""
        return Event(
            time=self.clock(),
            method=facts.method,
            path=facts.path,
            client_ip=facts.client_ip,
            host=facts.host,
            user_agent=facts.user_agent,
            kind=kind,
            robots_version=self.robots_version,
            **details,
        )

    def close(self) -> None:
        """Write every queued event and the last counts, and release the store."""
        self.tally.flush()
        self.sink.close()
        self.counters.close()
        if self.verifier is not None:
            self.verifier.close()
        if self.metrics is not None:
            self.metrics.close()
