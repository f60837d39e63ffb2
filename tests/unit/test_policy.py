"""The policy: precedence of rules, agents and categories; monitor mode; what robots.txt needs."""

from __future__ import annotations

import pytest

from noaiguard import parse_config
from noaiguard.agents import AgentDB
from noaiguard.categories import Category
from noaiguard.classify import Verdict
from noaiguard.config import Action
from noaiguard.policy import DEFAULT_ACTIONS, Policy


@pytest.fixture(scope="module")
def db() -> AgentDB:
    return AgentDB.load()


def policy_from(text: str) -> Policy:
    config = parse_config(text)
    return Policy(config.policy, config.mode)


def verdict(db: AgentDB, name: str) -> Verdict:
    agent = db.get(name)
    assert agent is not None
    return Verdict(agent.category, agent=agent)


def test_defaults_follow_the_architecture(db: AgentDB) -> None:
    policy = policy_from("")
    assert policy.decide(verdict(db, "GPTBot")).action is Action.BLOCK
    assert policy.decide(verdict(db, "img2dataset")).action is Action.BLOCK
    assert policy.decide(verdict(db, "OAI-SearchBot")).action is Action.LOG
    assert policy.decide(verdict(db, "ChatGPT-User")).action is Action.LOG
    assert policy.decide(verdict(db, "Googlebot")).action is Action.ALLOW
    assert policy.decide(verdict(db, "facebookexternalhit")).action is Action.ALLOW
    assert policy.decide(verdict(db, "Miniflux")).action is Action.ALLOW
    assert policy.decide(Verdict(Category.BROWSER)).action is Action.ALLOW
    assert policy.decide(Verdict(Category.SPOOFED_BOT)).action is Action.BLOCK
    assert set(DEFAULT_ACTIONS) == set(Category)


def test_the_deciding_part_is_named(db: AgentDB) -> None:
    policy = policy_from(
        "policy:\n  categories:\n    ai-search: block\n  agents:\n    GPTBot: log\n"
    )
    assert policy.decide(verdict(db, "GPTBot")).rule == "agents.GPTBot"
    assert policy.decide(verdict(db, "PerplexityBot")).rule == "categories.ai-search"
    assert policy.decide(verdict(db, "ClaudeBot")).rule == "default.ai-training"


def test_precedence_rules_then_agents_then_categories(db: AgentDB) -> None:
    policy = policy_from(
        """
policy:
  categories:
    ai-training: log
  agents:
    ClaudeBot: block
  rules:
    - paths: ["/press/**"]
      action: allow
    - agents: [ClaudeBot]
      paths: ["/private/**"]
      action: log
"""
    )
    claude, gpt = verdict(db, "ClaudeBot"), verdict(db, "GPTBot")
    assert policy.decide(claude, "GET", "/press/kit.zip").action is Action.ALLOW
    assert policy.decide(claude, "GET", "/private/x").rule == "rules[1]"
    assert policy.decide(claude, "GET", "/gallery/a.png").action is Action.BLOCK
    assert policy.decide(gpt, "GET", "/gallery/a.png").action is Action.LOG


def test_rule_conditions_must_all_hold(db: AgentDB) -> None:
    policy = policy_from(
        """
policy:
  rules:
    - categories: [ai-assistant]
      methods: [POST]
      paths: ["/api/*"]
      action: block
"""
    )
    chatgpt = verdict(db, "ChatGPT-User")
    assert policy.decide(chatgpt, "POST", "/api/upload").action is Action.BLOCK
    assert policy.decide(chatgpt, "GET", "/api/upload").action is Action.LOG
    assert policy.decide(chatgpt, "POST", "/api/v1/upload").action is Action.LOG
    assert policy.decide(verdict(db, "GPTBot"), "POST", "/api/upload").rule == "default.ai-training"


def test_monitor_mode_decides_the_same_but_enforces_nothing(db: AgentDB) -> None:
    decision = policy_from("mode: monitor\n").decide(verdict(db, "GPTBot"))
    assert decision.action is Action.BLOCK
    assert decision.enforced is False
    assert decision.effective_action is Action.LOG
    log = policy_from("mode: monitor\n").decide(verdict(db, "ChatGPT-User"))
    assert log.effective_action is Action.LOG


def test_robots_rules_follow_the_policy(db: AgentDB) -> None:
    policy = policy_from(
        """
policy:
  rules:
    - paths: ["/press/**"]
      action: allow
    - agents: [GPTBot]
      action: allow
    - methods: [POST]
      paths: ["/upload"]
      action: block
"""
    )
    gpt = db.get("GPTBot")
    claude = db.get("ClaudeBot")
    assert gpt is not None and claude is not None
    assert policy.robots_rules(gpt) == (False, [(Action.ALLOW, "/press/**")])
    assert policy.robots_rules(claude) == (True, [(Action.ALLOW, "/press/**")])
    assert policy.agent_action(gpt) is Action.ALLOW
    assert policy.agent_action(claude) is Action.BLOCK
