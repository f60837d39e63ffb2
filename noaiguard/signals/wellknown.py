"""Files noaiguard serves itself besides robots.txt: ``/.well-known/tdmrep.json`` and ``/ai.txt``.

Both are made once, from the site's :class:`~noaiguard.signals.preferences.Preferences`, so they say
what robots.txt and the headers say. Neither is served when the policy lets AI training in (a file
saying nothing would be noise, and one saying "not reserved" would grant on the owner's behalf),
except for ``tdmrep.json`` rules the owner wrote.

* TDMRep (W3C Community Group final report): a JSON array of ``{"location", "tdm-reservation",
  "tdm-policy"?}`` objects, read in order, the first match winning; the owner's rules come first
  and a catch-all ``"/"`` rule last. ``tdm-policy`` is sent only with reservation 1.
* ``ai.txt`` (Spawning): robots.txt syntax about which files datasets may use; every file type
  is disallowed, by extension for readers that match extensions and by ``/`` for the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..config import SignalsConfig
from .preferences import Preferences

TDMREP_PATH = "/.well-known/tdmrep.json"
AI_TXT_PATH = "/ai.txt"

#: File types named in ai.txt (Spawning's generator lists extensions like these).
AI_TXT_EXTENSIONS = (
    "jpg", "jpeg", "png", "gif", "webp", "avif", "heic", "tif", "tiff", "bmp", "svg", "psd",
    "raw", "mp4", "webm", "mov", "mp3", "wav", "flac", "ogg", "pdf", "txt", "md", "html", "htm",
    "epub", "docx",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OwnFile:
    """A file noaiguard answers itself: its media type and body."""

    content_type: str
    body: bytes

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Its response headers (the caller merges X-Robots-Tag in)."""
        return [
            (b"content-type", self.content_type.encode("ascii")),
            (b"content-length", b"%d" % len(self.body)),
            (b"cache-control", b"public, max-age=3600"),
        ]


def own_files(preferences: Preferences, signals: SignalsConfig) -> dict[str, OwnFile]:
    """The files the configuration asks for, by path."""
    files = {}
    if signals.tdmrep.enabled:
        rules = tdmrep_rules(preferences, signals)
        if rules:
            body = json.dumps(rules, indent=2).encode("utf-8") + b"\n"
            files[TDMREP_PATH] = OwnFile("application/json", body)
    if signals.ai_txt.enabled and preferences.train is False:
        opened = tuple(rule.location for rule in signals.tdmrep.rules if not rule.reservation)
        text = ai_txt(opened if signals.tdmrep.enabled else ())
        files[AI_TXT_PATH] = OwnFile("text/plain; charset=utf-8", text.encode("utf-8"))
    return files


def tdmrep_rules(preferences: Preferences, signals: SignalsConfig) -> list[dict[str, object]]:
    """The TDMRep rules: the owner's, then ``"/"`` reserved when the policy refuses training."""
    config = signals.tdmrep
    rules: list[dict[str, object]] = []
    for rule in config.rules:
        entry: dict[str, object] = {
            "location": rule.location,
            "tdm-reservation": 1 if rule.reservation else 0,
        }
        policy = rule.policy or config.policy_url
        if rule.reservation and policy:
            entry["tdm-policy"] = policy
        rules.append(entry)
    if preferences.train is False:
        catch_all: dict[str, object] = {"location": "/", "tdm-reservation": 1}
        if config.policy_url:
            catch_all["tdm-policy"] = config.policy_url
        rules.append(catch_all)
    return rules


def ai_txt(opened: tuple[str, ...] = ()) -> str:
    """The ai.txt body; ``opened``: locations the owner's TDMRep rules open, allowed here too."""
    lines = [
        "# ai.txt: this site's files may not be used in AI training datasets.",
        "# Served by noaiguard, with the same opt-out as its robots.txt and response headers.",
        "User-Agent: *",
        *(f"Allow: {location}" for location in opened),
        *(f"Disallow: *.{extension}" for extension in AI_TXT_EXTENSIONS),
        "Disallow: /",
    ]
    return "\n".join(lines) + "\n"
