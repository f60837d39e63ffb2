"""Behaviour detection on replayed traces with an injected clock: people, feed readers, previews
and search engines are never flagged; image downloaders and fast crawlers are, within a stated
number of requests."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noaiguard import Guard, parse_config
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.classify import behaviour as behaviour_module
from noaiguard.classify.behaviour import IMAGE, PAGE, Behaviour, ClientTable, request_kind
from noaiguard.config import Action
from noaiguard.facts import RequestFacts
from noaiguard.policy import Decision
from tests.conftest import BROWSER_UA

BROWSER_HEADERS = (
    (b"accept", b"text/html,application/xhtml+xml,*/*;q=0.8"),
    (b"accept-language", b"en-GB,en;q=0.9"),
)
# What img2dataset sends by default: a plain Firefox User-Agent, and nothing a browser would add.
IMG2DATASET_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:72.0) Gecko/20100101 Firefox/72.0"
PAGE_VIEW = (
    "/gallery/",
    "/static/site.css",
    "/static/site.js",
    *(f"/img/w{n}.jpg" for n in range(8)),
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Site:
    """A guard and a clock; ``visit`` runs one request through inspect and behaviour."""

    def __init__(self, config: str = "") -> None:
        self.clock = Clock()
        self.guard = Guard(parse_config(config), store=MemoryEventStore(), clock=self.clock)

    def visit(
        self,
        path: str,
        ua: str = BROWSER_UA,
        ip: str = "198.51.100.7",
        headers: Sequence[tuple[bytes, bytes]] = BROWSER_HEADERS,
    ) -> Decision:
        facts = RequestFacts("GET", path, ua, ip, headers=headers)
        return self.guard.judge(self.guard.inspect(facts), ip, path, headers)

    def close(self) -> None:
        self.guard.close()


@pytest.fixture
def site() -> Site:
    built = Site()
    yield built  # type: ignore[misc]
    built.close()


def test_request_kinds_come_from_the_path() -> None:
    assert request_kind("/") == PAGE and request_kind("/about") == PAGE
    assert request_kind("/a/b.JPG") == IMAGE and request_kind("/x.webp") == IMAGE
    assert request_kind("/site.css") == PAGE and request_kind("/v1.2/") == PAGE
    assert request_kind("/feed.rss") not in (PAGE, IMAGE)


def test_a_person_browsing_for_an_hour_with_several_tabs_is_never_flagged(site: Site) -> None:
    for minute in range(60):
        # Every minute: three tabs opened at once, then a page read every 15 s.
        for tab in range(3):
            for path in PAGE_VIEW:
                assert site.visit(path.replace("gallery", f"gallery/{minute}-{tab}")).action is (
                    Action.ALLOW
                )
            site.clock.now += 0.3
        for _ in range(3):
            site.clock.now += 15
            for path in PAGE_VIEW:
                assert site.visit(path).action is Action.ALLOW


def test_a_lightbox_of_many_images_after_one_page_is_not_a_downloader(site: Site) -> None:
    for path in PAGE_VIEW:
        site.visit(path)
    for n in range(58):  # a person clicking through a gallery: an image every second
        site.clock.now += 1
        assert site.visit(f"/img/large-{n}.jpg").action is Action.ALLOW


@pytest.mark.parametrize(
    ("ua", "period", "paths"),
    [
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 4 subscribers)", 900, ["/feed.xml"]),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 0.5, None),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 0.2, None),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 0.2, None),
    ],
)
def test_feed_readers_previews_and_search_engines_are_never_flagged(
    site: Site, ua: str, period: float, paths: list[str] | None
) -> None:
    ip = "66.249.66.1" if "Googlebot" in ua else "198.51.100.7"  # Google's own address
    for n in range(2000):
        path = paths[0] if paths else f"/img/{n}.jpg" if n % 2 else f"/page/{n}"
        decision = site.visit(path, ua=ua, ip=ip, headers=())
        assert decision.action is Action.ALLOW, decision.verdict.reasons
        site.clock.now += period


def test_an_image_downloader_with_a_browser_user_agent_is_blocked_within_60_requests(
    site: Site,
) -> None:
    actions = []
    for n in range(200):
        actions.append(site.visit(f"/img/{n}.jpg", ua=IMG2DATASET_UA, ip="203.0.113.9", headers=()))
        site.clock.now += 0.1  # ten images a second
    first_block = next(i for i, d in enumerate(actions) if d.action is Action.BLOCK)
    assert first_block < 60
    assert all(d.action is Action.BLOCK for d in actions[first_block:])
    reasons = actions[first_block].verdict.reasons
    assert any("downloading images without viewing pages" in r for r in reasons)
    assert any("no Accept-Language" in r for r in reasons)
    assert actions[first_block].rule == "behaviour"
    # The penalty box: even after it slows down, it stays blocked for a while.
    site.clock.now += 120
    later = site.visit("/img/late.jpg", ua=IMG2DATASET_UA, ip="203.0.113.9", headers=())
    assert later.action is Action.BLOCK and "penalty box" in later.verdict.reasons[-1]
    site.clock.now += 600
    assert site.visit("/", ua=IMG2DATASET_UA, ip="203.0.113.9").action is Action.ALLOW


def test_a_fast_crawler_with_a_browser_user_agent_is_flagged_within_601_requests(
    site: Site,
) -> None:
    actions = []
    for n in range(700):
        actions.append(site.visit(f"/page/{n}", ip="203.0.113.10"))
        site.clock.now += 0.05  # twenty pages a second, with every browser header
    first_flag = next(i for i, d in enumerate(actions) if d.action is not Action.ALLOW)
    assert first_flag <= 600
    assert actions[first_flag].action is Action.LOG  # full browser headers: logged, not blocked
    # Without the headers a browser sends, the same crawler is blocked.
    for n in range(700):
        decision = site.visit(f"/page/{n}", ip="203.0.113.11", headers=())
        site.clock.now += 0.05
    assert decision.action is Action.BLOCK


def test_a_scraper_spread_over_its_network_is_seen_whole(site: Site) -> None:
    decision = None
    for n in range(3200):
        decision = site.visit(f"/page/{n}", ip=f"203.0.113.{n % 250}")
        site.clock.now += 0.01
    assert decision is not None and decision.action is Action.LOG
    assert any("from 203.0.113.0/24" in r for r in decision.verdict.reasons)


def test_monitor_mode_records_would_be_blocks() -> None:
    site = Site("mode: monitor\n")
    decision = None
    for n in range(100):
        decision = site.visit(f"/img/{n}.jpg", ua=IMG2DATASET_UA, headers=())
        site.clock.now += 0.1
    assert decision is not None and decision.action is Action.BLOCK
    assert not decision.enforced and decision.effective_action is Action.LOG
    site.close()


def test_behaviour_can_be_switched_off_rule_by_rule() -> None:
    site = Site("behaviour:\n  image_burst: {enabled: false}\n")
    for n in range(200):
        assert site.visit(f"/img/{n}.jpg", ua=IMG2DATASET_UA, headers=()).action is Action.ALLOW
        site.clock.now += 0.1
    site.close()


def test_the_client_table_is_bounded_and_keeps_the_recently_seen() -> None:
    table = ClientTable(capacity=1000, window_seconds=60, epoch=0)
    for n in range(5000):
        table.observe(f"10.0.{n // 256}.{n % 256}", PAGE, now=n)
    assert len(table) == 1000 and table.evicted == 4000
    # The newest are kept far more often than the oldest.
    newest = sum(f"10.0.{n // 256}.{n % 256}" in table._slots for n in range(4900, 5000))
    oldest = sum(f"10.0.{n // 256}.{n % 256}" in table._slots for n in range(100))
    assert newest > 90 and oldest < 10


_SMALL_LIMITS = parse_config(
    "behaviour:\n"
    "  window_seconds: 10\n"
    "  burst: {requests: 25}\n"
    "  image_burst: {images: 8, max_page_ratio: 0.2}\n"
    "  network_burst: {requests: 40}\n"
    "  penalty_seconds: 30\n"
).behaviour


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.9.1"]),
            st.sampled_from(["/", "/a.css", "/w.jpg", "/x.bin"]),
            st.integers(1, 30),  # requests in a row, at one time
            st.sampled_from([0.0, 0.01, 0.4, 0.6, 1.0, 2.5, 9.4, 9.9, 10.0, 25.0]),  # then later
            st.booleans(),  # the client walks into the trap first (the penalty box)
        ),
        max_size=60,
    )
)
def test_budgets_and_passes_never_change_a_finding(
    runs: list[tuple[str, str, int, float, bool]],
) -> None:
    """Counting on a pass, or within a budget, without estimating, gives every request the same
    finding as estimating each time, penalty box included; the request path asks count() first
    and observe() when it says no, as Guard.count_only and Guard.judge do."""
    budgeted = Behaviour(_SMALL_LIMITS, epoch=0)
    estimating = Behaviour(_SMALL_LIMITS, epoch=0)
    for name in ("clients", "networks"):  # the same tables, without limits: no budgets
        table = getattr(estimating, name)
        setattr(estimating, name, ClientTable(table.capacity, table.window, 0))
    now = 1000.0
    counted = 0
    for ip, path, repeat, step, trapped in runs:
        if trapped:
            for behaviour in (budgeted, estimating):
                behaviour.clients.flag(ip, now + 30, now)
        for _ in range(repeat):
            expected = estimating.observe(ip, path, now)
            if budgeted.count(ip, path, now):
                counted += 1
                assert expected is None
            else:
                assert budgeted.observe(ip, path, now) == expected
        for name in ("clients", "networks"):  # what every client and network has done, so far
            assert _windows(getattr(budgeted, name), now) == _windows(
                getattr(estimating, name), now
            )
        now += step
    assert estimating.count("10.0.0.1", "/", now) is False  # no budgets, so no passes


def _windows(table: ClientTable, now: float) -> dict[str, tuple[float, float, float]]:
    """Each key's requests, images and pages in the window at ``now``, as the table would
    estimate them, with what passes counted settled in first."""
    for key, held in list(table.passes.items()):
        table._settle(key, held)
    t = int(now) - table.epoch
    windows = {}
    for key, slot in table._slots.items():
        start, req, req_prev, img, img_prev, page, page_prev = table._data[
            slot * 10 + 1 : slot * 10 + 8
        ]
        elapsed = t - start
        if elapsed >= 2 * table.window:
            req = req_prev = img = img_prev = page = page_prev = 0
        elif elapsed >= table.window:
            req_prev, img_prev, page_prev, req, img, page = req, img, page, 0, 0, 0
        share = 1.0 - (elapsed % table.window) / table.window
        windows[key] = (req + req_prev * share, img + img_prev * share, page + page_prev * share)
    return windows


def test_a_pass_counts_every_request_into_the_table() -> None:
    """What a pass counted is in the estimate the next time the client is judged in full."""
    behaviour = Behaviour(_SMALL_LIMITS, epoch=0)
    assert behaviour.observe("10.0.0.1", "/w.jpg", 100.0) is None  # estimated, pass handed out
    taken = 0
    while behaviour.count("10.0.0.1", "/w.jpg", 100.0):
        taken += 1
    assert taken == 6  # image_burst fires at 8 images: the 1st, 6 on the pass, the 8th estimated
    finding = behaviour.observe("10.0.0.1", "/w.jpg", 100.0)
    assert finding is not None and "8 images" in finding.reasons[0]


def test_a_pass_ends_with_its_bucket() -> None:
    behaviour = Behaviour(_SMALL_LIMITS, epoch=0)  # window: 10 s
    behaviour.observe("10.0.0.1", "/", 100.0)
    assert behaviour.count("10.0.0.1", "/", 109.9)
    assert not behaviour.count("10.0.0.1", "/", 110.0)  # the next bucket: estimated again
    assert behaviour.observe("10.0.0.1", "/", 110.0) is None
    assert behaviour.count("10.0.0.1", "/", 110.0)


def test_passes_are_bounded_and_ended_ones_make_room(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(behaviour_module, "MAX_PASSES", 3)
    behaviour = Behaviour(_SMALL_LIMITS, epoch=0)
    for n in range(5):
        behaviour.observe(f"10.0.{n}.1", "/", 100.0)
    assert len(behaviour.clients.passes) == 3
    assert behaviour.count("10.0.4.1", "/", 100.0) is False  # no pass: counted in the table
    behaviour.observe("10.0.5.1", "/", 111.0)  # the others' buckets have ended: room again
    assert "10.0.5.1" in behaviour.clients.passes and len(behaviour.clients.passes) == 1


def test_a_budget_is_spent_and_then_the_client_is_estimated_again() -> None:
    table = ClientTable(100, 60, 0, limits=(10.0, float("inf")))
    assert table.observe("a", PAGE, 5) is not None  # the first request is estimated
    quiet = [table.observe("a", PAGE, 5) for _ in range(9)]
    assert quiet == [None] * 9  # nine more fit under the limit of ten
    counts = table.observe("a", PAGE, 5)
    assert counts is not None and counts[0] == 11  # and every one was counted


def test_memory_per_tracked_client_is_under_200_bytes() -> None:
    count = 100_000
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    table = ClientTable(capacity=count, window_seconds=60, epoch=0)
    for n in range(count):
        table.observe(f"{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}.{n % 7}", IMAGE, now=n / 1000)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(table) == count
    assert used / count < 200, f"{used / count:.0f} bytes per client"


# -- robots.txt violations --------------------------------------------------------------------

ROBOTS = (
    b"User-agent: GPTBot\nDisallow: /\n\n"
    b"User-agent: *\nDisallow: /drafts/\nAllow: /drafts/public$\n"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def fetch_robots(site: Site, ua: str, ip: str) -> None:
    site.guard.robots_served(RequestFacts("GET", "/robots.txt", ua, ip), ROBOTS)


def test_robots_rules_match_as_rfc_9309_says() -> None:
    from noaiguard.signals.robots import allows

    rules = (("Disallow", "/drafts/"), ("Allow", "/drafts/public$"), ("Disallow", "/*.psd"))
    assert not allows(rules, "/drafts/x") and allows(rules, "/drafts/public")
    assert not allows(rules, "/drafts/public/more")  # $ ends the pattern
    assert not allows(rules, "/art/layers.psd") and allows(rules, "/art/")
    assert allows((("Disallow", ""),), "/anything")  # an empty Disallow allows all
    assert allows((("Disallow", "/a"), ("Allow", "/a")), "/a")  # a tie goes to Allow


def test_a_crawler_that_read_robots_txt_and_ignores_it_is_blocked_with_the_evidence(
    site: Site,
) -> None:
    google = "66.249.66.1"  # Google's own address: a genuine Googlebot
    assert site.visit("/drafts/x", ua=GOOGLEBOT, ip=google, headers=()).action is Action.ALLOW
    fetch_robots(site, GOOGLEBOT, google)
    site.clock.now += 5
    assert site.visit("/drafts/public", ua=GOOGLEBOT, ip=google, headers=()).action is (
        Action.ALLOW
    )
    caught = site.visit("/drafts/x", ua=GOOGLEBOT, ip=google, headers=())
    assert caught.action is Action.BLOCK and caught.rule == "behaviour.robots_violation"
    (reason,) = [r for r in caught.verdict.reasons if r.startswith("robots.txt violation")]
    version = hashlib.sha256(ROBOTS).hexdigest()[:12]
    assert "/drafts/x is disallowed for Googlebot by the robots.txt this client fetched" in reason
    assert f"(version {version})" in reason
    # A day later the client is no longer held to what it read.
    site.clock.now += 86400
    assert site.visit("/drafts/x", ua=GOOGLEBOT, ip=google, headers=()).action is Action.ALLOW


def test_a_blocked_agent_that_ignores_robots_txt_gets_the_violation_on_its_record(
    site: Site,
) -> None:
    openai = "132.196.86.9"  # in OpenAI's published GPTBot ranges
    gptbot = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)"
    fetch_robots(site, gptbot, openai)
    decision = site.visit("/img/a.jpg", ua=gptbot, ip=openai, headers=())
    assert decision.action is Action.BLOCK and decision.verdict.agent_name == "GPTBot"
    assert any("disallowed for GPTBot" in r for r in decision.verdict.reasons)


def test_a_person_who_read_robots_txt_is_at_most_logged(site: Site) -> None:
    fetch_robots(site, BROWSER_UA, "198.51.100.20")
    decision = site.visit("/drafts/sketch", ip="198.51.100.20")
    assert decision.action is Action.LOG
    assert any("for every crawler (User-agent: *)" in r for r in decision.verdict.reasons)


def test_between_the_tarpit_and_block_scores_a_client_is_held_in_the_tarpit(site: Site) -> None:
    # Twenty pages a second (60) with one sign of a script (10): 70, the tarpit's score.
    only_accept = ((b"accept", b"text/html"),)
    decision = None
    for n in range(700):
        decision = site.visit(f"/page/{n}", ip="203.0.113.12", headers=only_accept)
        site.clock.now += 0.05
    assert decision is not None and decision.action is Action.TARPIT
    assert any("no Accept-Language" in r for r in decision.verdict.reasons)


# -- the trap link ----------------------------------------------------------------------------


def test_whoever_follows_the_trap_link_is_blocked_for_a_day(site: Site) -> None:
    scraper = "198.51.100.66"
    assert site.visit("/gallery/", ip=scraper).action is Action.ALLOW
    trapped = site.visit("/all-originals/", ip=scraper)
    assert trapped.action is Action.BLOCK and trapped.rule == "behaviour.trap"
    assert "robots.txt disallows for every crawler" in trapped.verdict.reasons[-1]
    site.clock.now += 3600
    assert site.visit("/gallery/", ip=scraper).action is Action.BLOCK  # still in the box
    site.clock.now += 86400
    assert site.visit("/gallery/", ip=scraper).action is Action.ALLOW
    # Another visitor is not affected, and a search engine is never trapped.
    assert site.visit("/gallery/", ip="198.51.100.67").action is Action.ALLOW
    googlebot = site.visit("/all-originals/", ua=GOOGLEBOT, ip="66.249.66.1", headers=())
    assert googlebot.action is Action.ALLOW


def test_the_trap_can_be_turned_off() -> None:
    site = Site("behaviour:\n  trap: {enabled: false}\n")
    assert site.guard.trap_path == ""
    assert site.visit("/all-originals/").action is Action.ALLOW
    robots = site.guard.robots
    assert robots is not None and b"all-originals" not in robots.render()
    site.close()
