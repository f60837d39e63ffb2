"""``noaiguard inspect`` without a network: its parsers, its checks and the audit over answers
built in memory (RFC 9651 dictionaries checked against a real Structured Fields parser, robots.txt
group selection against Protego)."""

from __future__ import annotations

import io
import json

import http_sf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from protego import Protego

from noaiguard.inspect import Status, audit
from noaiguard.inspect.aipref import most_restrictive, read_signal, read_usage
from noaiguard.inspect.aitxt import check_ai_txt
from noaiguard.inspect.crawlers import AI_CRAWLERS
from noaiguard.inspect.directives import read_directives
from noaiguard.inspect.fetch import Fetched, Site
from noaiguard.inspect.findings import Finding, Report, Statement
from noaiguard.inspect.pagemarkup import first_image, first_srcset_candidate, is_html, read_markup
from noaiguard.inspect.render import render_json, render_text
from noaiguard.inspect.robotstxt import (
    check_robots,
    may_crawl,
    select_groups,
    usage_at,
    winning_rule,
)
from noaiguard.inspect.structured import (
    Date,
    DisplayString,
    StructuredFieldError,
    Token,
    parse_dictionary,
)
from noaiguard.inspect.tdmrep import TdmRepError, check_tdmrep, matching_rule, parse_tdmrep
from noaiguard.signals.robots import AppRobots
from noaiguard.stamping import Outcome, data_mining_uri, stamp_bytes

BASE = "https://example.org"


def answer(path: str, body: bytes = b"", status: int = 200, **headers: str | list[str]) -> Fetched:
    """A fetched answer; header names with underscores become dashes, lists become lines."""
    lines: list[tuple[str, str]] = []
    for name, value in headers.items():
        for line in [value] if isinstance(value, str) else value:
            lines.append((name.replace("_", "-").lower(), line))
    return Fetched(BASE + path, BASE + path, status, tuple(lines), body)


def failed(path: str, error: str = "timed out after 10 s") -> Fetched:
    return Fetched(BASE + path, error=error)


def png(data_mining: str | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2), "blue").save(out, "PNG")
    if data_mining is None:
        return out.getvalue()
    stamped = stamp_bytes(out.getvalue(), data_mining_uri(data_mining))
    assert stamped.outcome is Outcome.STAMPED and stamped.data is not None
    return stamped.data


def by_signal(findings: list[Finding] | tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.signal: f for f in findings}


# -- RFC 9651 dictionaries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "train-ai=n, search=y",
        "train-ai=n,search=y",
        "  train-ai=n",
        "train-ai",
        'train-ai="n"',
        "train-ai=?0",
        'train-ai=n;q=1;why="I said so", search=y',
        'a=(1 2.5 "x" tok);p, b=:aGVsbG8=:',
        'a=@1700000000, b=%"caf%c3%a9"',
        "a=-12.345, b=999999999999999",
        "*x=*y, a.b_c-d=1",
        "train-ai=y, train-ai=n",
        "Train-AI=n",
        "train-ai=n,",
        "train-ai=n,,search=y",
        "train-ai=n search=y",
        "train-ai==n",
        'a="unterminated',
        'a="bad \\escape"',
        "a=1.2345",
        "a=1234567890123456",
        "a=?2",
        "a=(1 2",
        "a=:not base64!:",
        'a=%"caf%C3%A9"',
        "a=@1.5",
        "1a=n",
        "",
    ],
)
def test_dictionaries_parse_exactly_where_a_real_parser_does(text: str) -> None:
    assert_parsed_as_http_sf_parses(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='ab-*=,; ()"\\:?01.9@%ynY\t', max_size=14))
def test_any_text_parses_exactly_where_a_real_parser_does(text: str) -> None:
    assert_parsed_as_http_sf_parses(text)


def assert_parsed_as_http_sf_parses(text: str) -> None:
    """Same keys, and a Token where http_sf has a Token; an error where it has one."""
    try:
        expected = http_sf.parse(text.encode(), tltype="dictionary")
    except http_sf.StructuredFieldError:
        with pytest.raises(StructuredFieldError):
            parse_dictionary(text)
        return
    members = parse_dictionary(text)
    assert list(members) == list(expected)
    for key, (value, _parameters) in expected.items():
        assert isinstance(members[key], Token) == isinstance(value, http_sf.Token)


def test_dictionary_values_keep_their_types() -> None:
    members = parse_dictionary('t=y, s="y", b, n=-3, d=1.5, l=(a "b"), when=@5, say=%"hi"')
    assert members["t"] == "y" and type(members["t"]) is Token
    assert members["s"] == "y" and type(members["s"]) is str
    assert members["b"] is True
    assert (members["n"], members["d"]) == (-3, 1.5)
    assert members["l"] == ["a", "b"] and type(members["l"][0]) is Token  # type: ignore[index]
    assert type(members["when"]) is Date and type(members["say"]) is DisplayString
    assert parse_dictionary("k=1, k=2") == {"k": 2}  # the last duplicate wins


@pytest.mark.parametrize(
    ("value", "train", "search"),
    [
        ("train-ai=n, search=y", False, True),
        ("train-ai=y", True, None),
        ("train-ai=n;reason=x", False, None),  # parameters are ignored
        ("train-ai=y, train-ai=n", False, None),  # the last duplicate wins
        ('train-ai="n"', None, None),  # a String, not the Token n
        ("train-ai", None, None),  # a Boolean
        ("train-ai=no", None, None),  # another Token
        ("train-ai=?0", None, None),
        ("Train-AI=n, search=y", None, None),  # uppercase key: nothing parses, all unknown
        ("train-ai=n, search=y,", None, None),  # trailing comma: all unknown
        ("train-genai=n", None, None),  # an old label: ignored
    ],
)
def test_content_usage_values(value: str, train: bool | None, search: bool | None) -> None:
    usage = read_usage(value)
    assert (usage.train_ai, usage.search) == (train, search)


def test_an_unparseable_usage_says_why() -> None:
    assert "lowercase" in read_usage("Train-AI=n").error
    assert read_usage("train-ai=n").error == ""


def test_statements_combine_most_restrictively() -> None:
    assert most_restrictive([True, None, False]) is False
    assert most_restrictive([None, True]) is True
    assert most_restrictive([None]) is None
    assert most_restrictive([]) is None


def test_content_signal_values() -> None:
    signal = read_signal("search=yes, AI-Train=NO, ai-input=maybe, use=reference")
    assert (signal.search, signal.ai_train, signal.ai_input) == (True, False, None)
    assert read_signal("ai-train=no, ai-train=yes").ai_train is True  # last wins
    assert read_signal("").ai_train is None


# -- robots directives --------------------------------------------------------------------------


def test_directives_union_lines_and_scope_agent_lines() -> None:
    directives = read_directives(
        ["NoAI, noimageai", "img2dataset: noai, noml", "max-snippet: 20, noarchive", ""]
    )
    assert directives.general == ("noai", "noimageai", "max-snippet: 20", "noarchive")
    assert directives.scoped == {"img2dataset": ("noai", "noml")}
    assert directives.describe() == (
        "noai, noimageai, max-snippet: 20, noarchive; for img2dataset: noai, noml"
    )
    assert not read_directives([])
    assert read_directives([]).describe() == "none"


# -- robots.txt ---------------------------------------------------------------------------------

ROBOTS = """\
# a site's robots.txt
User-agent: *
Disallow: /
Content-Usage: train-ai=n
Content-Signal: ai-train=no, search=yes

User-agent: GPTBot
Allow: /
Disallow: /private/
Content-Usage: train-ai=y

User-agent: ClaudeBot
User-agent: CCBot
Disallow: /gallery/
Allow: /gallery/press/

User-agent: claudebot
Disallow: /drafts/

Sitemap: https://example.org/sitemap.xml
"""


def test_a_specific_group_replaces_the_star_group() -> None:
    robots = AppRobots.parse(ROBOTS)
    gptbot = select_groups(robots, "GPTBot")
    assert gptbot.kind == "own"
    assert may_crawl(gptbot.rules, "/")  # the * group's Disallow: / is not inherited
    assert not may_crawl(gptbot.rules, "/private/x")
    star = select_groups(robots, "Bytespider")
    assert (star.kind, may_crawl(star.rules, "/")) == ("*", False)


def test_groups_naming_one_token_merge_case_insensitively() -> None:
    claude = select_groups(AppRobots.parse(ROBOTS), "ClaudeBot")
    assert claude.groups == (2, 3)
    assert not may_crawl(claude.rules, "/drafts/a")  # from the second group
    assert not may_crawl(claude.rules, "/gallery/a.png")
    assert may_crawl(claude.rules, "/gallery/press/kit.zip")  # the longer Allow wins
    assert may_crawl(claude.rules, "/")


def test_without_a_star_group_nothing_applies() -> None:
    selection = select_groups(AppRobots.parse("User-agent: GPTBot\nDisallow: /\n"), "CCBot")
    assert (selection.kind, selection.rules) == ("none", ())
    assert may_crawl(selection.rules, "/")


def test_longest_match_wins_and_allow_wins_a_tie() -> None:
    rules = (("Disallow", "/a"), ("Allow", "/a"), ("Disallow", "/a/b"), ("Allow", "/*.png$"))
    assert winning_rule(rules, "/a/x") == ("Allow", "/a")
    assert winning_rule(rules, "/a/b/c") == ("Disallow", "/a/b")
    assert winning_rule(rules, "/a/b/c.png") == ("Allow", "/*.png$")
    assert winning_rule(rules, "/a/b/c.png?x") == ("Disallow", "/a/b")
    assert winning_rule(rules, "/other") is None
    assert winning_rule((("Disallow", ""),), "/") is None  # an empty Disallow allows everything


@pytest.mark.parametrize("token", ["GPTBot", "ClaudeBot", "CCBot", "Bytespider", "SomeBot"])
@pytest.mark.parametrize("path", ["/", "/private/x", "/gallery/a.png", "/gallery/press/k", "/x"])
def test_group_selection_agrees_with_protego(token: str, path: str) -> None:
    expected = Protego.parse(ROBOTS).can_fetch(f"https://example.org{path}", token)
    assert may_crawl(select_groups(AppRobots.parse(ROBOTS), token).rules, path) == expected


def test_content_usage_lines_by_path() -> None:
    rules = (
        ("Allow", "/"),
        ("Disallow", "/drafts/"),
        ("Content-Usage", "train-ai=n"),
        ("Content-Usage", "/open-data/ train-ai=y"),
        ("Content-Usage", "/mixed/ train-ai=y"),
        ("Content-Usage", "/mixed/ train-ai=n, search=y"),
    )
    assert [u.train_ai for u in usage_at(rules, "/page")] == [False]
    assert [u.train_ai for u in usage_at(rules, "/open-data/set.csv")] == [True]
    assert most_restrictive(u.train_ai for u in usage_at(rules, "/mixed/x")) is False
    assert usage_at(rules, "/drafts/x") == []  # a path the group may not crawl has none


def test_robots_findings_per_crawler_and_preference() -> None:
    findings = by_signal(
        check_robots(
            answer("/robots.txt", ROBOTS.encode()),
            page_path="/gallery/a.html",
            image_path="/gallery/a.png",
            noai_on_page=True,
        )
    )
    assert findings["robots.txt"].status is Status.PRESENT
    assert findings["robots.txt"].detail.endswith("4 groups")
    gptbot = findings["GPTBot"]
    assert gptbot.status is Status.MISSING
    assert gptbot.detail.startswith("may crawl / (its own group)")
    assert "the page's noai reaches it only after the fetch" in gptbot.detail
    assert findings["CCBot"].status is Status.MISSING
    assert "but is disallowed from /gallery/a.html, /gallery/a.png" in findings["CCBot"].detail
    assert findings["Bytespider"].status is Status.PRESENT
    assert findings["Bytespider"].detail.startswith("disallowed from / (the * group)")
    assert "not essential" in findings["PerplexityBot"].detail
    assert "does not read robots.txt" in findings["img2dataset"].detail
    assert "after the fetch" not in findings["img2dataset"].detail  # it reads noai
    usage = findings["Content-Usage"]
    assert usage.status is Status.PRESENT
    assert "train-ai=n (the * group)" in usage.detail
    assert "train-ai=y (group GPTBot)" in usage.detail
    assert "none in group ClaudeBot, CCBot, group claudebot" in usage.detail
    says = {s.says: s for s in usage.statements}
    # the * group disallows everything: its preference covers no crawlable path
    assert list(says) == ["Content-Usage train-ai=y (group GPTBot of robots.txt)"]
    assert findings["Content-Signal"].status is Status.PRESENT


@pytest.mark.parametrize(
    ("fetched", "status", "words"),
    [
        (answer("/robots.txt", b"nope", 404), Status.MISSING, "HTTP 404: no robots.txt"),
        (answer("/robots.txt", b"", 503), Status.UNREADABLE, "HTTP 503"),
        (answer("/robots.txt", b"", 429), Status.UNREADABLE, "HTTP 429"),
        (failed("/robots.txt"), Status.UNREADABLE, "could not be read: timed out after 10 s"),
        (answer("/robots.txt", b"<!doctype html><p>app"), Status.MISSING, "an HTML page"),
    ],
)
def test_robots_without_a_usable_file(fetched: Fetched, status: Status, words: str) -> None:
    findings = check_robots(fetched, page_path="/", image_path=None, noai_on_page=False)
    assert {f.status for f in findings} == {status}
    assert words in findings[0].detail
    assert len(findings) == 3 + len(AI_CRAWLERS)


# -- TDMRep -------------------------------------------------------------------------------------

TDMREP = b"""[
  {"location": "/", "tdm-reservation": 1, "tdm-policy": "https://example.org/tdm.json"},
  {"location": "/press/", "tdm-reservation": 0},
  {"location": "/gallery/*.png$", "tdm-reservation": 0}
]"""


def test_tdmrep_first_match_wins() -> None:
    rules = parse_tdmrep(TDMREP).rules
    assert matching_rule(rules, "/press/kit")  == rules[0]  # fmt: skip
    specific_first = parse_tdmrep(b"""[
        {"location": "/gallery/*.png$", "tdm-reservation": 0},
        {"location": "/press/", "tdm-reservation": 0},
        {"location": "/", "tdm-reservation": 1}]""").rules
    assert matching_rule(specific_first, "/press/kit") == specific_first[1]
    assert matching_rule(specific_first, "/gallery/2024/a.png") == specific_first[0]
    assert matching_rule(specific_first, "/gallery/a.png?size=2") == specific_first[2]  # $
    assert matching_rule(specific_first, "/Press/kit") == specific_first[2]  # case-sensitive
    assert (
        matching_rule(parse_tdmrep(b'[{"location": "/a", "tdm-reservation": 1}]').rules, "/b")
        is None
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"location": "/", "tdm-reservation": 1}', "not a JSON array"),
        (b"[{location: /}]", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_tdmrep_that_is_not_a_tdmrep_file(body: bytes, reason: str) -> None:
    with pytest.raises(TdmRepError, match=reason):
        parse_tdmrep(body)
    [finding] = check_tdmrep(
        answer("/.well-known/tdmrep.json", body), page_path="/", image_path=None
    )
    assert finding.status is Status.UNREADABLE and reason in finding.detail


def test_tdmrep_rules_with_problems() -> None:
    tdmrep = parse_tdmrep(b"""[
        {"tdm-reservation": 1},
        {"location": "/a", "tdm-reservation": "1"},
        {"location": "/b", "tdm-reservation": true},
        {"location": "/c", "tdm-reservation": 0, "tdm-policy": "https://example.org/p"},
        {"location": "/d", "tdm-reservation": 1, "tdm-policy": "p.json"}]""")
    assert [r.reservation for r in tdmrep.rules] == [None, None, 0, 1]
    assert tdmrep.problems == (
        "rule 1 has no location, so it is skipped",
        'rule 2 (/a): tdm-reservation "1" is not 0 or 1, so the path counts as unset',
        "rule 3 (/b): tdm-reservation true is not 0 or 1, so the path counts as unset",
        "rule 4 (/c): tdm-policy is ignored with reservation 0",
        "rule 5 (/d): tdm-policy is not an absolute URL",
    )


def test_tdmrep_findings_for_page_and_image() -> None:
    findings = by_signal(
        check_tdmrep(
            answer("/.well-known/tdmrep.json", TDMREP),
            page_path="/press/kit",
            image_path="/gallery/a.png",
        )
    )
    assert findings["tdmrep.json"].detail == "3 rules"
    page = findings["rule for the page"]
    assert page.status is Status.PRESENT
    assert page.detail == (
        "location '/' gives /press/kit tdm-reservation 1, tdm-policy https://example.org/tdm.json"
    )
    assert page.statements[0].refuses
    missing = check_tdmrep(
        answer("/.well-known/tdmrep.json", b"", 404), page_path="/", image_path="/a.png"
    )
    assert [(f.signal, f.status) for f in missing] == [("tdmrep.json", Status.MISSING)]
    unreachable = check_tdmrep(failed("/.well-known/tdmrep.json"), page_path="/", image_path=None)
    assert unreachable[0].status is Status.UNREADABLE


# -- ai.txt -------------------------------------------------------------------------------------


def test_ai_txt_by_extension_and_explicit_allow() -> None:
    body = b"User-Agent: *\nDisallow: *.png\nDisallow: *.jpg\nAllow: *.html\n"
    finding = check_ai_txt(answer("/ai.txt", body), page_path="/a.html", image_path="/i/b.png")
    assert finding.status is Status.PRESENT
    assert finding.detail.startswith("disallows *.png, *.jpg;")
    assert [(s.says, s.refuses) for s in finding.statements] == [
        ("ai.txt Allow: *.html", False),
        ("ai.txt Disallow: *.png", True),
    ]
    empty = check_ai_txt(
        answer("/ai.txt", b"User-Agent: *\nAllow: /\n"), page_path="/", image_path=None
    )
    assert (empty.status, empty.detail) == (Status.MISSING, "present, but it disallows nothing")
    assert check_ai_txt(answer("/ai.txt", b"", 500), page_path="/", image_path=None).status is (
        Status.UNREADABLE
    )


# -- the page's markup --------------------------------------------------------------------------


def test_the_first_image_is_the_first_img_then_srcset_then_og_image() -> None:
    page = "https://example.org/gallery/index.html"
    markup = read_markup(
        b'<html><head><meta property="og:image" content="/og.jpg">'
        b'<META NAME="Robots" CONTENT="noai"></head><body>'
        b'<img src="data:image/png;base64,AAAA"><img srcset="small.png 1x, big.png 2x">'
        b'<img src="later.png"></body></html>'
    )
    assert markup.meta("robots") == ["noai"]
    assert first_image(markup, page) == (
        "https://example.org/gallery/small.png",
        "first <img srcset> candidate on the page",
    )
    only_og = read_markup(b'<meta name="og:image" content="https://cdn.example.net/a.jpg">')
    assert first_image(only_og, page) == ("https://cdn.example.net/a.jpg", "og:image")
    based = read_markup(b'<base href="https://static.example.org/v2/"><img src="a.png">')
    assert first_image(based, page) == (
        "https://static.example.org/v2/a.png",
        "first <img src> on the page",
    )
    assert first_image(read_markup(b"<p>no images</p>"), page) is None
    assert first_srcset_candidate(" ,a.png, b.png 2x") == "a.png"
    assert first_srcset_candidate("a.png,b.png 2x") == "a.png,b.png"  # a comma inside a URL
    assert first_srcset_candidate(" ") == ""


def test_html_is_known_by_type_or_first_bytes() -> None:
    assert is_html("text/html; charset=utf-8", b"")
    assert not is_html("image/png", b"<html>")
    assert is_html("", b"  <!DOCTYPE html><html>")
    assert not is_html("", b"\x89PNG")


def test_broken_markup_does_not_stop_the_scan() -> None:
    markup = read_markup(b'<meta name=robots content="noai"><img src="a.png"<<>>< /x', "text/html")
    assert markup.meta("robots") == ["noai"]


# -- the audit ----------------------------------------------------------------------------------

PAGE_HTML = b'<html><head><title>x</title></head><body><img src="/img/a.png"></body></html>'


def site(
    *,
    robots: Fetched | None = None,
    tdmrep: Fetched | None = None,
    ai_txt: Fetched | None = None,
    page: Fetched | None = None,
    image: Fetched | None = None,
    no_image: bool = False,
) -> Site:
    return Site(
        BASE + "/",
        page or answer("/", PAGE_HTML, content_type="text/html"),
        robots or answer("/robots.txt", b"", 404),
        tdmrep or answer("/.well-known/tdmrep.json", b"", 404),
        ai_txt or answer("/ai.txt", b"", 404),
        None if no_image else image or answer("/img/a.png", png(), content_type="image/png"),
        "first <img src> on the page",
    )


OPTED_OUT = {
    "x_robots_tag": "noai, noimageai",
    "tdm_reservation": "1",
    "content_usage": "train-ai=n, search=y",
}
FULL_ROBOTS = "\n".join(
    [
        *(f"User-agent: {c.token}" for c in AI_CRAWLERS),
        "Disallow: /",
        "",
        "User-agent: *",
        "Allow: /",
    ]
)


def test_a_fully_opted_out_site_exits_0() -> None:
    report = audit(
        site(
            robots=answer("/robots.txt", FULL_ROBOTS.encode()),
            page=answer("/", PAGE_HTML, content_type="text/html", **OPTED_OUT),
            image=answer(
                "/img/a.png",
                png("DMI-PROHIBITED-AIMLTRAINING"),
                content_type="image/png",
                **OPTED_OUT,
            ),
        )
    )
    assert report.exit_code == 0
    assert [e.met for e in report.essentials] == [True, True, True, True]
    data_mining = report.find("image", "plus:DataMining")
    assert data_mining is not None and data_mining.status is Status.PRESENT
    assert data_mining.detail == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"


def test_a_bare_site_misses_every_essential() -> None:
    report = audit(site())
    assert report.exit_code == 1
    assert [e.met for e in report.essentials] == [False, False, False, False]
    assert not report.contradictions


def test_an_image_that_allows_mining_contradicts_the_headers() -> None:
    report = audit(
        site(
            image=answer(
                "/img/a.png", png("DMI-ALLOWED"), content_type="image/png", x_robots_tag="noai"
            )
        )
    )
    finding = report.find("image", "plus:DataMining")
    assert finding is not None and finding.status is Status.CONTRADICTORY
    assert finding.detail.endswith("contradicts X-Robots-Tag noai on the image")
    assert report.exit_code == 1


def test_a_named_groups_grant_is_an_exception_but_the_star_groups_is_a_contradiction() -> None:
    named = "User-agent: ResearchBot\nAllow: /\nContent-Signal: ai-train=yes\n"
    page = answer("/", PAGE_HTML, content_type="text/html", x_robots_tag="noai")
    report = audit(site(robots=answer("/robots.txt", named.encode()), page=page))
    assert not report.contradictions
    star = "User-agent: *\nAllow: /\nContent-Signal: ai-train=yes\nContent-Usage: train-ai=n\n"
    report = audit(site(robots=answer("/robots.txt", star.encode()), page=page))
    [signal] = report.contradictions
    assert signal.signal == "Content-Signal"
    assert signal.detail.endswith(
        "contradicts Content-Usage train-ai=n (the * group of robots.txt), "
        "X-Robots-Tag noai on the page"
    )


def test_noimageai_on_the_page_covers_its_image() -> None:
    page = answer("/", PAGE_HTML, content_type="text/html", x_robots_tag="noimageai")
    image = answer("/img/a.png", png(), content_type="image/png", content_usage="train-ai=y")
    report = audit(site(page=page, image=image))
    usage = report.find("image", "Content-Usage header")
    assert usage is not None and usage.status is Status.CONTRADICTORY
    x_robots = report.find("page", "X-Robots-Tag")
    assert x_robots is not None and x_robots.status is Status.MISSING  # noimageai is not noai


def test_header_lines_that_disagree_among_themselves() -> None:
    page = answer("/", PAGE_HTML, content_type="text/html", tdm_reservation=["1", "0"])
    finding = audit(site(page=page)).find("page", "tdm-reservation header")
    assert finding is not None
    assert (finding.status, finding.detail) == (Status.CONTRADICTORY, "several values: 1, 0")


def test_an_image_elsewhere_is_not_judged_by_this_sites_files() -> None:
    image = Fetched(
        "https://cdn.example.net/a.png", "https://cdn.example.net/a.png", 200, (), png()
    )
    report = audit(site(tdmrep=answer("/.well-known/tdmrep.json", TDMREP), image=image))
    assert report.find("tdmrep.json", "rule for the image") is None
    finding = report.find("image", "image")
    assert finding is not None and "https://cdn.example.net, whose robots.txt" in finding.detail


def test_a_page_that_is_not_html_has_headers_but_no_metas() -> None:
    page = answer("/doc.pdf", b"%PDF-1.7", content_type="application/pdf", x_robots_tag="noai")
    report = audit(site(page=page, no_image=True))
    signals = [f.signal for f in report.at("page")]
    assert signals[:2] == ["page", "X-Robots-Tag"]
    assert "meta robots" not in signals
    image = report.find("image", "image")
    assert image is not None and "not HTML" in image.detail
    assert [e.met for e in report.essentials][1:3] == [True, None]


def test_text_and_json_renderings() -> None:
    report = audit(site())
    text = render_text(report)
    assert text.startswith(f"noaiguard inspect {BASE}/\n")
    assert "\n  [--] X-Robots-Tag" in text
    assert text.rstrip().endswith("result: 4 essential signals missing (exit 1)")
    assert text.isascii()
    document = json.loads(render_json(report))
    assert document["format"] == 1 and document["url"] == f"{BASE}/"
    assert document["exit_code"] == 1
    assert all(
        set(check) == {"place", "signal", "status", "detail"} for check in document["checks"]
    )
    assert {check["status"] for check in document["checks"]} <= {
        "present",
        "missing",
        "contradictory",
        "unreadable",
    }


def test_a_report_counts_contradictions_and_unmet_essentials() -> None:
    statement = Statement("x", refuses=False, covers=frozenset({"page"}))
    finding = Finding("page", "x", Status.CONTRADICTORY, "d", (statement,))
    report = Report(BASE, BASE, None, "", (finding,), ())
    assert (report.exit_code, report.contradictions) == (1, (finding,))
