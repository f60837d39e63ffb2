"""The site's AI-use preferences, derived from the policy once and written in each vocabulary.

Several standards say the same thing in different words: the IETF AI-preferences vocabulary
(``Content-Usage: train-ai=n, search=y``, in robots.txt and as a header), Cloudflare's Content
Signals (``Content-Signal: search=yes, ai-train=no``) and, for training alone, TDMRep's
``tdm-reservation: 1``. They are all written from one :class:`Preferences`, which is read off the
policy, so that no signal can contradict another or what noaiguard enforces:

* training is refused when the policy refuses the ``ai-training`` category;
* search is allowed when it lets the ``search-engine`` category in (refused when it refuses it);
* answering with the content at query time (``ai-input``) is refused when the policy refuses both
  ``ai-search`` and ``ai-assistant``.

A use the policy allows is left unsaid rather than granted: noaiguard says no on a site owner's
behalf, never yes. The vocabulary follows drafts that still change; its words live here only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..categories import Category
from ..config import Action, SignalsConfig
from ..policy import Policy

#: The aipref draft whose labels are used (draft-ietf-aipref-vocab-07).
AIPREF_VOCABULARY = "draft-ietf-aipref-vocab-07"
#: aipref labels (Structured Field Dictionary keys; values are the tokens y and n).
AIPREF_TRAIN = "train-ai"
AIPREF_SEARCH = "search"
#: Content Signals keys (values yes and no).
SIGNAL_TRAIN = "ai-train"
SIGNAL_SEARCH = "search"
SIGNAL_INPUT = "ai-input"

_REFUSING = frozenset({Action.BLOCK, Action.TARPIT})


@dataclass(frozen=True, slots=True)
class Preferences:
    """Yes, no, or nothing to say (None) for each use."""

    train: bool | None = False
    search: bool | None = True
    ai_input: bool | None = None

    @classmethod
    def of(cls, policy: Policy) -> Preferences:
        def allowed(*categories: Category) -> bool | None:
            refused = [policy.category_action(c) in _REFUSING for c in categories]
            if all(refused):
                return False
            return None

        search = policy.category_action(Category.SEARCH_ENGINE) not in _REFUSING
        return cls(
            train=allowed(Category.AI_TRAINING),
            search=search,
            ai_input=allowed(Category.AI_SEARCH, Category.AI_ASSISTANT),
        )

    @property
    def content_usage(self) -> str:
        """The aipref Dictionary: ``train-ai=n, search=y`` ("" when there is nothing to say)."""
        pairs = [(AIPREF_TRAIN, self.train), (AIPREF_SEARCH, self.search)]
        return ", ".join(
            f"{key}={'y' if value else 'n'}" for key, value in pairs if value is not None
        )

    @property
    def content_signal(self) -> str:
        """The Content Signals line: ``search=yes, ai-input=no, ai-train=no``."""
        pairs = [
            (SIGNAL_SEARCH, self.search),
            (SIGNAL_INPUT, self.ai_input),
            (SIGNAL_TRAIN, self.train),
        ]
        return ", ".join(
            f"{key}={'yes' if value else 'no'}" for key, value in pairs if value is not None
        )


def robots_lines(preferences: Preferences, signals: SignalsConfig) -> list[tuple[str, str]]:
    """The preference lines for every robots.txt group, as ``(record key, line)`` pairs."""
    lines = []
    if signals.content_usage.enabled and preferences.content_usage:
        lines.append(("content-usage", f"Content-Usage: {preferences.content_usage}"))
        lines += [("content-usage", line) for line in _tdm_location_lines(preferences, signals)]
    if signals.content_signal.enabled and preferences.content_signal:
        lines.append(("content-signal", f"Content-Signal: {preferences.content_signal}"))
    return lines


def _tdm_location_lines(preferences: Preferences, signals: SignalsConfig) -> list[str]:
    """A ``Content-Usage: <location> ...`` line for each of the owner's TDMRep rules.

    A location the owner opens to text and data mining (``reservation: false``) says nothing
    about ``train-ai`` there, so that robots.txt, the header and tdmrep.json agree; a reserved one
    says the site's preferences again, so that it is not covered by a shorter opened location.
    (robots.txt picks the longest matching path, tdmrep.json the first rule: with the specific
    rules first, as TDMRep asks, both pick the same one.)
    """
    if not signals.tdmrep.enabled or not signals.tdmrep.rules:
        return []
    opened = replace(preferences, train=None).content_usage
    lines = []
    for rule in signals.tdmrep.rules:
        value = preferences.content_usage if rule.reservation else opened
        if value:
            lines.append(f"Content-Usage: {rule.location} {value}")
    return lines
