"""The policy: from a verdict and a request to an action. Pure: no I/O, no clock, no state.

Precedence, first match wins (the same order the config documents):

1. ``policy.rules`` in file order: a rule applies when every condition it gives holds (paths,
   agents, categories, methods);
2. ``policy.agents``: an action for one named agent;
3. ``policy.categories``: an action for a whole category;
4. :data:`DEFAULT_ACTIONS`, the built-in action of the category.

In ``monitor`` mode the decision is the same but not enforced: a would-be block is served and
recorded, so a site owner can see what enforcing would do before turning it on.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from .agents import Agent
from .categories import Category
from .classify import Verdict
from .config import Action, Mode, PolicyConfig, PolicyRule
from .paths import PathSet

__all__ = ["DEFAULT_ACTIONS", "Action", "Decision", "Mode", "Policy"]

DEFAULT_ACTIONS: Mapping[Category, Action] = MappingProxyType(
    {
        Category.AI_TRAINING: Action.BLOCK,
        Category.AI_DATASET_TOOL: Action.BLOCK,
        Category.AI_SEARCH: Action.LOG,
        Category.AI_ASSISTANT: Action.LOG,
        Category.SCRAPER_LIBRARY: Action.LOG,
        Category.HEADLESS_BROWSER: Action.LOG,
        Category.SEARCH_ENGINE: Action.ALLOW,
        Category.SOCIAL_PREVIEW: Action.ALLOW,
        Category.FEED_READER: Action.ALLOW,
        Category.ARCHIVER: Action.ALLOW,
        Category.SEO_CRAWLER: Action.ALLOW,
        Category.MONITOR: Action.ALLOW,
        Category.BROWSER: Action.ALLOW,
        Category.UNKNOWN_BOT: Action.LOG,
        Category.UNKNOWN: Action.LOG,
        Category.SPOOFED_BOT: Action.BLOCK,
    }
)


class Decision(NamedTuple):
    """What the policy decided for one request, and which part of it decided.

    A named tuple, like RequestFacts: one is made for every request.
    """

    action: Action
    verdict: Verdict
    #: The deciding part of the policy: "rules[2]", "agents.GPTBot", "categories.ai-training" or
    #: "default.ai-training".
    rule: str
    #: False in monitor mode: the action is recorded but not carried out.
    enforced: bool = True

    @property
    def effective_action(self) -> Action:
        """What actually happens: in monitor mode a block or tarpit is served and logged instead."""
        if not self.enforced and self.action in (Action.BLOCK, Action.TARPIT):
            return Action.LOG
        return self.action


class _CompiledRule:
    __slots__ = ("action", "agents", "categories", "index", "methods", "paths")

    def __init__(self, index: int, rule: PolicyRule) -> None:
        self.index = index
        self.action = rule.action
        self.paths = PathSet(rule.paths)
        self.agents = frozenset(name.lower() for name in rule.agents)
        self.categories = frozenset(rule.categories)
        self.methods = frozenset(rule.methods)

    def matches_client(self, verdict: Verdict) -> bool:
        if self.agents and (
            verdict.agent is None
            or verdict.category is Category.SPOOFED_BOT  # only claims to be that agent
            or verdict.agent.name.lower() not in self.agents
        ):
            return False
        return not self.categories or verdict.category in self.categories

    def matches(self, verdict: Verdict, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.paths and not self.paths.matches(path):
            return False
        return self.matches_client(verdict)


class Policy:
    """A compiled :class:`~noaiguard.config.PolicyConfig`."""

    def __init__(self, config: PolicyConfig, mode: Mode = Mode.ENFORCE) -> None:
        self.mode = mode
        self._enforced = mode is Mode.ENFORCE
        self._rules = tuple(_CompiledRule(i, rule) for i, rule in enumerate(config.rules))
        self._rule_names = tuple(f"rules[{i}]" for i in range(len(self._rules)))
        # (action, name of the deciding part), looked up once per request.
        self._agents = {
            name.lower(): (action, f"agents.{name}") for name, action in config.agents.items()
        }
        self._categories = {
            category: (
                config.categories.get(category, action),
                f"{'categories' if category in config.categories else 'default'}.{category}",
            )
            for category, action in DEFAULT_ACTIONS.items()
        }

    def decide(self, verdict: Verdict, method: str = "GET", path: str = "/") -> Decision:
        """The decision for a client described by ``verdict`` asking for ``method path``."""
        for rule in self._rules:
            if rule.matches(verdict, method, path):
                return Decision(rule.action, verdict, self._rule_names[rule.index], self._enforced)
        action, rule_name = self.base_action(verdict)
        return Decision(action, verdict, rule_name, self._enforced)

    def base_action(self, verdict: Verdict) -> tuple[Action, str]:
        """The action from ``agents`` and ``categories`` alone, ignoring path rules."""
        if (
            verdict.agent is not None
            and self._agents
            and verdict.category is not Category.SPOOFED_BOT
        ):
            named = self._agents.get(verdict.agent.name.lower())
            if named is not None:
                return named
        return self._categories[verdict.category]

    def agent_action(self, agent: Agent) -> Action:
        """What the policy does with ``agent`` on any path (rules that name paths aside)."""
        verdict = Verdict(agent.category, agent=agent)
        for rule in self._rules:
            if not rule.paths and not rule.methods and rule.matches_client(verdict):
                return rule.action
        return self.base_action(verdict)[0]

    def category_action(self, category: Category) -> Action:
        """What the policy does with a client of ``category`` on any path (no agent named)."""
        verdict = Verdict(category)
        for rule in self._rules:
            if not rule.paths and not rule.methods and rule.matches_client(verdict):
                return rule.action
        return self._categories[category][0]

    def robots_rules(self, agent: Agent) -> tuple[bool, list[tuple[Action, str]]]:
        """How ``agent`` is treated across paths, for its robots.txt group.

        Returns whether the agent is blocked by default and the (action, glob) path rules that
        come before that default for GET requests, in policy order. A rule with no paths that
        applies to the agent ends the list and sets the default.
        """
        verdict = Verdict(agent.category, agent=agent)
        path_rules: list[tuple[Action, str]] = []
        for rule in self._rules:
            if rule.methods and "GET" not in rule.methods:
                continue
            if not rule.matches_client(verdict):
                continue
            if not rule.paths:
                return rule.action in (Action.BLOCK, Action.TARPIT), path_rules
            path_rules.extend((rule.action, glob) for glob in rule.paths.patterns)
        action, _ = self.base_action(verdict)
        return action in (Action.BLOCK, Action.TARPIT), path_rules
