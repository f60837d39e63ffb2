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

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path

from .agents import AgentDB
from .backends import EventStore, open_event_store
from .classify import Classifier, Verdict
from .classify.useragent import MAX_CACHED_LENGTH
from .clientip import TrustedProxies
from .config import Action, Config, load_config
from .events import Event, EventSink
from .facts import RequestFacts
from .paths import PathSet
from .policy import Decision, Policy
from .signals.headers import XRobotsTag
from .signals.robots import RobotsTxt

decision_logger = logging.getLogger("noaiguard.decision")


class Guard:
    """Classification, policy, signals and the event sink for one configuration."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        store: EventStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config if config is not None else Config()
        self.agents = AgentDB.load(self.config.agents.extra)
        self.trusted_proxies = TrustedProxies(self.config.network.trusted_proxies)
        self.classifier = Classifier(self.agents, self.config.agents.cache_size)
        self.policy = Policy(self.config.policy, self.config.mode)
        signals = self.config.signals
        self.x_robots_tag = XRobotsTag(signals.x_robots_tag)
        html = signals.html_meta
        self.meta_directives: tuple[str, ...] = (
            (html.directives or tuple(signals.x_robots_tag.directives)) if html.enabled else ()
        )
        self.meta_excluded = PathSet(html.exclude_paths)
        self.robots = (
            RobotsTxt(self.agents, self.policy, signals.robots_txt)
            if signals.robots_txt.enabled
            else None
        )
        store_config = self.config.store
        self.sink = EventSink(
            (lambda: store) if store is not None else (lambda: open_event_store(store_config.url)),
            queue_size=store_config.queue_size,
            batch_size=store_config.batch_size,
            flush_seconds=store_config.flush_seconds,
        )
        self.clock = clock
        # Without path or method rules a decision depends on the User-Agent alone, so the
        # middleware's fast path can look it up by the raw header bytes.
        self._decision_by_raw_user_agent = (
            None
            if self.config.policy.rules
            else functools.lru_cache(maxsize=self.config.agents.cache_size)(
                self._decide_raw_user_agent
            )
        )

    @classmethod
    def from_file(cls, path: str | Path, *, store: EventStore | None = None) -> Guard:
        """A guard for the YAML config at ``path`` (raises ConfigError if it is invalid)."""
        return cls(load_config(path), store=store)

    # -- the request path -----------------------------------------------------------------

    def classify(self, facts: RequestFacts) -> Verdict:
        """Who the request is, and why noaiguard thinks so."""
        return self.classifier.classify(facts)

    def inspect(self, facts: RequestFacts) -> Decision:
        """Classify the request and decide what to do with it. In memory, no I/O."""
        return self.policy.decide(self.classify(facts), facts.method, facts.path)

    def decide_by_user_agent(self, raw: bytes) -> Decision | None:
        """The decision for a raw User-Agent header, from a cache, when nothing else matters.

        This is the front doors' fast path: it answers only while the decision depends on the
        User-Agent alone (no path or method rules) and the header is of a cacheable size;
        otherwise it returns None and :meth:`inspect` decides from the full request facts.
        """
        cached = self._decision_by_raw_user_agent
        if cached is None or len(raw) > MAX_CACHED_LENGTH:
            return None
        return cached(raw)

    def _decide_raw_user_agent(self, raw: bytes) -> Decision:
        return self.policy.decide(self.classifier.user_agent(raw.decode("latin-1")))

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
        event = Event(
            time=self.clock(),
            method=facts.method,
            path=facts.path,
            status=status,
            category=str(verdict.category),
            action=str(decision.action),
            client_ip=facts.client_ip,
            host=facts.host,
            bytes_sent=bytes_sent,
            user_agent=facts.user_agent,
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
            Event(
                time=self.clock(),
                method=facts.method,
                path=facts.path,
                status=status,
                category=str(verdict.category) if verdict is not None else "unknown",
                action="error",
                client_ip=facts.client_ip,
                host=facts.host,
                user_agent=facts.user_agent,
                agent=verdict.agent_name if verdict is not None else None,
                enforced=decision.enforced if decision is not None else True,
                rule=decision.rule if decision is not None else "",
                reasons=(reason,),
            )
        )

    def close(self) -> None:
        """Write every queued event and release the store."""
        self.sink.close()
