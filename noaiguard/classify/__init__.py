"""Classification: from the facts of a request to a :class:`Verdict` (who it is, and why).

Today the verdict comes from the User-Agent alone (:mod:`.useragent`); checks of claimed crawlers
against their operators' addresses and of behaviour over time plug in here, in front of the policy.
"""

from __future__ import annotations

from ..agents import AgentDB
from ..facts import RequestFacts
from .useragent import UserAgentClassifier, Verdict, describe

__all__ = ["Classifier", "Verdict", "describe"]


class Classifier:
    """Runs the checks in order; today the User-Agent check decides alone."""

    def __init__(self, agents: AgentDB, cache_size: int = 8192) -> None:
        self.user_agent = UserAgentClassifier(agents, cache_size)

    def classify(self, facts: RequestFacts) -> Verdict:
        return self.user_agent(facts.user_agent)
