"""The TDMRep checks: ``/.well-known/tdmrep.json`` and the rule that covers a path.

TDMRep (W3C Community Group final report) puts a JSON *array* of rules at the well-known path,
each ``{"location", "tdm-reservation": 0 or 1, "tdm-policy"?}``. Locations are robots.txt-style
patterns (``*`` any run, ``$`` the end), matched case-sensitively from the start of the path, and
the array is ordered: the first matching rule wins. A reservation other than the numbers 0 and 1
is a protocol error and leaves the path *unset*, as does a path no rule matches. ``tdm-policy``
is only read with a reservation of 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from .fetch import Fetched
from .findings import TDMREP_JSON, Finding, Statement, Status
from .robotstxt import pattern_matches

PAGE_RULE = "rule for the page"
IMAGE_RULE = "rule for the image"


@dataclass(frozen=True, slots=True)
class TdmRule:
    location: str
    #: 1 reserved, 0 not reserved, None a protocol error (the path is then unset).
    reservation: int | None
    policy: str = ""


@dataclass(frozen=True, slots=True)
class TdmRep:
    rules: tuple[TdmRule, ...]
    #: What is wrong with the file, rule by rule ("" problems: the file is clean).
    problems: tuple[str, ...] = ()


class TdmRepError(ValueError):
    """The file is not a TDMRep file at all (not JSON, not an array)."""


def parse_tdmrep(body: bytes) -> TdmRep:
    """The rules of a tdmrep.json, in order; raises :class:`TdmRepError` when it has none."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TdmRepError(f"not valid JSON ({exc})") from exc
    if not isinstance(document, list):
        raise TdmRepError(f"not a JSON array (a {type(document).__name__}; brackets are required)")
    rules: list[TdmRule] = []
    problems: list[str] = []
    for number, entry in enumerate(document, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("location"), str):
            problems.append(f"rule {number} has no location, so it is skipped")
            continue
        location: str = entry["location"]
        raw = entry.get("tdm-reservation")
        reservation = raw if raw in (0, 1) and type(raw) is int else None
        if reservation is None:
            problems.append(
                f"rule {number} ({location}): tdm-reservation {json.dumps(raw)} is not 0 or 1, "
                "so the path counts as unset"
            )
        policy = entry.get("tdm-policy", "")
        if not isinstance(policy, str):
            problems.append(f"rule {number} ({location}): tdm-policy is not a string")
            policy = ""
        elif policy and not urlsplit(policy).scheme:
            problems.append(f"rule {number} ({location}): tdm-policy is not an absolute URL")
        elif policy and reservation == 0:
            problems.append(f"rule {number} ({location}): tdm-policy is ignored with reservation 0")
        rules.append(TdmRule(location, reservation, policy))
    return TdmRep(tuple(rules), tuple(problems))


def matching_rule(rules: tuple[TdmRule, ...], path: str) -> TdmRule | None:
    """The first rule whose location matches ``path`` (TDMRep: the first match wins)."""
    return next((rule for rule in rules if pattern_matches(rule.location, path)), None)


def check_tdmrep(fetched: Fetched, *, page_path: str, image_path: str | None) -> list[Finding]:
    """The file, then the rule for the page and for the image (when the image is on the site)."""
    if fetched.status is not None and 400 <= fetched.status < 500:
        return [Finding(TDMREP_JSON, "tdmrep.json", Status.MISSING, f"HTTP {fetched.status}")]
    if not fetched.ok:
        return [
            Finding(
                TDMREP_JSON,
                "tdmrep.json",
                Status.UNREADABLE,
                f"could not be read: {fetched.failure()}",
            )
        ]
    try:
        tdmrep = parse_tdmrep(fetched.body)
    except TdmRepError as exc:
        return [Finding(TDMREP_JSON, "tdmrep.json", Status.UNREADABLE, f"invalid: {exc}")]
    count = len(tdmrep.rules)
    detail = "; ".join((f"{count} rule{'s' * (count != 1)}", *tdmrep.problems))
    status = Status.PRESENT if tdmrep.rules else Status.MISSING
    findings = [Finding(TDMREP_JSON, "tdmrep.json", status, detail)]
    findings.append(_rule_finding(tdmrep, PAGE_RULE, "page", page_path))
    if image_path is not None:
        findings.append(_rule_finding(tdmrep, IMAGE_RULE, "image", image_path))
    return findings


def _rule_finding(tdmrep: TdmRep, signal: str, covers: str, path: str) -> Finding:
    rule = matching_rule(tdmrep.rules, path)
    if rule is None:
        return Finding(TDMREP_JSON, signal, Status.MISSING, f"no rule matches {path}: unset")
    said = f"location {rule.location!r} gives {path} tdm-reservation {rule.reservation}"
    if rule.reservation is None:
        return Finding(TDMREP_JSON, signal, Status.MISSING, f"{said}: a protocol error, unset")
    statement = Statement(
        f"tdm-reservation {rule.reservation} (tdmrep.json, location {rule.location!r})",
        refuses=rule.reservation == 1,
        covers=frozenset({covers}),
    )
    if rule.reservation == 1:
        detail = said + (f", tdm-policy {rule.policy}" if rule.policy else "")
        return Finding(TDMREP_JSON, signal, Status.PRESENT, detail, (statement,))
    return Finding(
        TDMREP_JSON, signal, Status.MISSING, f"{said}: TDM rights not reserved", (statement,)
    )
