"""The four formats: what each carries, and that hostile input stays text."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest

from noaiguard import Config
from noaiguard.agents import AgentDB
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.reports import FORMAT, Report, build_report, render
from noaiguard.reports.data import CSV_COLUMNS

from .seed import HOSTILE_PATH, HOSTILE_UA, MON, V_NOW, WEEK, seed


@pytest.fixture(scope="module")
def report() -> Report:
    store = MemoryEventStore()
    seed(store)
    return build_report(
        store, WEEK, agents=AgentDB.load(), config=Config(), site="<b>mara</b>", now=MON + 8 * 86400
    )


class _Page(HTMLParser):
    """What a browser would make of the page: elements, attributes, text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_one_file_with_no_script_and_no_outside_asset(report: Report) -> None:
    page = _Page()
    page.feed(render(report, "html"))
    names = [tag for tag, _ in page.tags]
    assert "script" not in names and "link" not in names and "iframe" not in names
    assert names.count("svg") == 2 and names.count("rect") > 5
    for tag, attrs in page.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("src", "href"):
                raise AssertionError(f"{tag} loads {value}")
    assert any(("name", "viewport") in attrs for tag, attrs in page.tags if tag == "meta")


def test_html_shows_hostile_strings_as_text(report: Report) -> None:
    html = render(report, "html")
    page = _Page()
    page.feed(html)
    text = "".join(page.text)
    assert "<script>window.pwned=1</script>" in text  # shown, as text
    assert "<svg onload=window.pwned=3>" in text
    assert "<b>mara</b>" in text
    assert "<script>window" not in html and "<svg onload" not in html and "<b>mara" not in html
    assert r"\n**bold**" in text  # the line break shown as an escape


def test_html_has_every_section(report: Report) -> None:
    html = render(report, "html")
    for section in ("glance", "timeline", "agents", "robots", "spoofed", "paths", "networks",
                    "new", "signals"):  # fmt: skip
        assert f'<section id="{section}">' in html
    assert V_NOW in html and "noaiguard evidence --agent GPTBot" in html
    assert "week 47 of 2026" in html and "300.0 kB" in html  # GPTBot's withheld bytes


def test_json_carries_the_format_version_and_every_section(report: Report) -> None:
    document = json.loads(render(report, "json"))
    assert document["format"] == FORMAT == "noaiguard-report/1"
    assert document["period"]["since"] == "2026-11-16T00:00:00+00:00"
    assert document["headline"]["requests"] == {"now": 727, "before": 566}
    gpt = next(a for a in document["agents"] if a["agent"] == "GPTBot")
    assert gpt["bytes_withheld"] == 300_000 and gpt["last_seen"].startswith("2026-11-18T11:00")
    assert document["robots"]["violations"][0]["agent"] == "GPTBot"
    assert document["signals"]["robots_versions"][1]["version"] == V_NOW
    assert {u["user_agent"] for u in document["unknown_agents"]} >= {HOSTILE_UA}


def test_csv_is_the_per_agent_table(report: Report) -> None:
    rows = list(csv.reader(io.StringIO(render(report, "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_agent = {row[0]: dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert by_agent["GPTBot"]["requests"] == "8" and by_agent["GPTBot"]["operator"] == "OpenAI"
    assert by_agent["Bytespider"]["new"] == "True"
    assert by_agent["CCBot"]["first_seen"].startswith("2026-11-10")


def test_csv_cells_never_become_spreadsheet_formulas() -> None:
    store = MemoryEventStore()
    from .seed import _e, at

    store.append([_e(at(1), agent='=HYPERLINK("http://evil")')])
    text = render(build_report(store, WEEK, agents=AgentDB.load(), now=MON), "csv")
    assert "'=HYPERLINK" in text


def test_markdown_reads_as_text_and_keeps_hostile_strings_in_code(report: Report) -> None:
    text = render(report, "md")
    assert text.startswith("# noaiguard report for <b>mara</b>: week 47 of 2026")
    assert "| requests |" in text and "| `GPTBot` " in text
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.endswith("|")
    hostile = next(line for line in text.splitlines() if "pwned=1" in line)
    # Inside a code span that its backticks cannot end, with the table's pipe escaped.
    assert re.search(r"``<script>window\.pwned=1</script>.*`\\\|`.*\\n\*\*bold\*\*``", hostile)
    assert HOSTILE_PATH in text
    assert "noaiguard evidence --agent GPTBot --since 2026-11-16T00:00" in text


def test_an_unknown_format_is_refused(report: Report) -> None:
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render(report, "pdf")
