"""The report as text for a terminal or a CI log, or as JSON for other programs.

Text is plain ASCII, one line per signal, a bracketed marker first so that a log can be searched
for ``[!!]``; every line says in words what the marker means. JSON carries a ``format`` version;
new keys may be added within a version, existing ones keep their meaning.
"""

from __future__ import annotations

import json

from .findings import PLACES, Report, Status

#: The version of the JSON structure.
JSON_FORMAT = 1

MARKERS = {
    Status.PRESENT: "[ok]",
    Status.MISSING: "[--]",
    Status.CONTRADICTORY: "[!!]",
    Status.UNREADABLE: "[??]",
}
_ESSENTIAL_MARKERS = {True: "[ok]", False: "[--]", None: "[  ]"}
#: Signal names are padded to the longest in the report, up to this.
_SIGNAL_WIDTH = 24
_ESSENTIAL_WIDTH = 44


def render_text(report: Report) -> str:
    lines = [f"noaiguard inspect {report.url}"]
    if report.page_url != report.url:
        lines.append(f"  page:  {report.page_url} (after redirects)")
    if report.image_url is not None:
        lines.append(f"  image: {report.image_url} ({report.image_source})")
    width = min(_SIGNAL_WIDTH, max((len(f.signal) for f in report.findings), default=0))
    for place in PLACES:
        findings = report.at(place)
        if not findings:
            continue
        lines += ["", place]
        for finding in findings:
            signal = finding.signal.ljust(width)
            lines.append(f"  {MARKERS[finding.status]} {signal} {finding.detail}".rstrip())
    lines += ["", "essentials (these decide the exit code, with any contradiction)"]
    for essential in report.essentials:
        name = essential.name.ljust(_ESSENTIAL_WIDTH)
        lines.append(f"  {_ESSENTIAL_MARKERS[essential.met]} {name} {essential.detail}")
    lines += ["", "  ".join(f"{marker} {status}" for status, marker in MARKERS.items())]
    lines.append(_result(report))
    return "\n".join(lines) + "\n"


def _result(report: Report) -> str:
    unmet, contradictions = len(report.unmet), len(report.contradictions)
    if not unmet and not contradictions:
        return "result: every essential signal is present and none contradicts another (exit 0)"
    parts = []
    if unmet:
        parts.append(f"{unmet} essential signal{'s' * (unmet != 1)} missing")
    if contradictions:
        parts.append(f"{contradictions} contradictory signal{'s' * (contradictions != 1)}")
    return f"result: {', '.join(parts)} (exit {report.exit_code})"


def render_json(report: Report) -> str:
    document = {
        "format": JSON_FORMAT,
        "url": report.url,
        "page": report.page_url,
        "image": report.image_url,
        "checks": [finding.as_json() for finding in report.findings],
        "essentials": [essential.as_json() for essential in report.essentials],
        "exit_code": report.exit_code,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
