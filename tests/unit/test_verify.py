"""Claimed-bot verification: published IP ranges in memory, forward-confirmed reverse DNS in the
background. DNS is the one thing mocked: the real crawlers' DNS cannot exist here."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from noaiguard import Guard, parse_config
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.categories import Category
from noaiguard.classify.ipranges import RangeTable, file_name, parse_prefixes
from noaiguard.classify.verify import Verifier, forward_confirmed
from noaiguard.config import Action
from noaiguard.facts import RequestFacts

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)"
AMAZONBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Amazonbot/0.1; "
    "+https://developer.amazon.com/support/amazonbot) Chrome/119.0.6045.214 Safari/537.36"
)


class FakeDNS:
    """PTR and A records as a crawler operator's DNS would answer them."""

    def __init__(self, ptr: dict[str, list[str]], forward: dict[str, list[str]]) -> None:
        self.ptr, self.addresses = ptr, forward
        self.lookups: list[str] = []

    def reverse(self, address: str) -> list[str]:
        self.lookups.append(address)
        time.sleep(0.05)  # a lookup takes time: the request must not wait for it
        return self.ptr.get(address, [])

    def forward(self, name: str) -> list[str]:
        return self.addresses.get(name, [])


GOOGLE_LIST = {
    "creationTime": "2026-11-01T00:00:00.000000",
    "prefixes": [{"ipv4Prefix": "66.249.64.0/27"}, {"ipv6Prefix": "2001:4860:4801:10::/64"}],
}
OPENAI_LIST = {
    "gptbot": {
        "creationTime": "2026-10-30T11:00:00Z",
        "ipv4Prefixes": [{"ipv4Prefix": "20.171.206.0/24"}, {"ipv4Prefix": "52.230.152.9"}],
        "ipv6Prefixes": None,
    }
}


@pytest.fixture
def ranges_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ipranges"
    folder.mkdir()
    google = "https://developers.google.com/static/crawling/ipranges/common-crawlers.json"
    (folder / file_name(google)).write_text(json.dumps(GOOGLE_LIST))
    (folder / file_name("https://openai.com/gptbot.json")).write_text(json.dumps(OPENAI_LIST))
    return folder


def guard_with(ranges_dir: Path, dns: FakeDNS | None = None, policy: str = "") -> Guard:
    """A guard reading IP lists from ``ranges_dir``, asking ``dns`` (none: no reverse DNS)."""
    rdns = "true" if dns is not None else "false"
    config = parse_config(
        f"agents:\n  ip_ranges_dir: {ranges_dir}\n  verify_rdns: {rdns}\n{policy}"
    )
    return Guard(config, store=MemoryEventStore(), resolver=dns)


def decide(guard: Guard, ua: str, ip: str, path: str = "/") -> object:
    facts = RequestFacts("GET", path, ua, ip)
    return guard.judge(guard.inspect(facts), ip, path)


def test_lists_in_every_published_shape_become_tables() -> None:
    networks = parse_prefixes(GOOGLE_LIST) + parse_prefixes(OPENAI_LIST)
    assert [str(n) for n in networks] == [
        "66.249.64.0/27",
        "2001:4860:4801:10::/64",
        "20.171.206.0/24",
        "52.230.152.9/32",  # a bare address is a /32
    ]
    table = RangeTable(networks)
    assert "66.249.64.31" in table and "66.249.64.32" not in table
    assert "2001:4860:4801:10::abcd" in table and "2001:4860:4801:11::1" not in table
    assert "::ffff:20.171.206.7" in table and "not an address" not in table
    assert file_name("https://openai.com/gptbot.json") == "openai.com-gptbot.json"


def test_a_googlebot_from_outside_googles_ranges_is_caught_on_its_first_request(
    ranges_dir: Path,
) -> None:
    guard = guard_with(ranges_dir)
    genuine = decide(guard, GOOGLEBOT, "66.249.64.7")
    assert genuine.action is Action.ALLOW and genuine.verdict.agent_name == "Googlebot"
    liar = decide(guard, GOOGLEBOT, "203.0.113.9")
    assert liar.action is Action.BLOCK and liar.verdict.category is Category.SPOOFED_BOT
    assert liar.verdict.agent_name == "Googlebot"  # the name it used, for the reports
    assert "claims to be Googlebot, but 203.0.113.9 is not in Google's published ranges" in (
        liar.verdict.reasons
    )
    gptbot = decide(guard, GPTBOT, "52.230.152.9")
    assert gptbot.verdict.agent_name == "GPTBot"  # genuine, and blocked as AI training anyway
    guard.close()


def test_a_policy_that_allows_a_crawler_does_not_allow_its_impostors(ranges_dir: Path) -> None:
    config = parse_config(
        f"agents:\n  ip_ranges_dir: {ranges_dir}\n  verify_rdns: false\n"
        "policy:\n  agents: {GPTBot: allow}\n"
    )
    guard = Guard(config, store=MemoryEventStore())
    assert decide(guard, GPTBOT, "20.171.206.1").action is Action.ALLOW
    assert decide(guard, GPTBOT, "198.51.100.1").action is Action.BLOCK
    guard.close()


def test_reverse_dns_runs_in_the_background_and_later_requests_use_it(ranges_dir: Path) -> None:
    dns = FakeDNS(
        ptr={"52.70.240.5": ["52-70-240-5.crawl.amazonbot.amazon"], "198.51.100.3": []},
        forward={"52-70-240-5.crawl.amazonbot.amazon": ["52.70.240.5"]},
    )
    # A site that lets Amazonbot in, but not those who only say they are Amazonbot. Amazon
    # publishes reverse DNS names only.
    guard = guard_with(ranges_dir, dns, "policy:\n  agents: {Amazonbot: allow}\n")
    started = time.perf_counter()
    first = decide(guard, AMAZONBOT, "52.70.240.5")
    impostor_first = decide(guard, AMAZONBOT, "198.51.100.3")
    assert time.perf_counter() - started < 0.05  # nobody waited for DNS
    assert first.action is Action.ALLOW and impostor_first.action is Action.ALLOW  # not known yet
    assert guard.verifier is not None and guard.verifier.wait_idle()
    assert decide(guard, AMAZONBOT, "52.70.240.5").verdict.agent_name == "Amazonbot"
    later = decide(guard, AMAZONBOT, "198.51.100.3")
    assert later.verdict.category is Category.SPOOFED_BOT and later.action is Action.BLOCK
    assert sorted(dns.lookups) == ["198.51.100.3", "52.70.240.5"]  # once each: cached
    decide(guard, AMAZONBOT, "198.51.100.3")
    assert len(dns.lookups) == 2
    guard.close()


def test_forward_confirmation_catches_a_lying_ptr_record() -> None:
    dns = FakeDNS(
        ptr={"203.0.113.5": ["crawl-203-0-113-5.googlebot.com"], "203.0.113.6": ["evil.example"]},
        forward={"crawl-203-0-113-5.googlebot.com": ["66.249.66.1"]},
    )
    lying = forward_confirmed(dns, "203.0.113.5", ("googlebot.com", "google.com"))
    assert not lying.genuine and "does not resolve back" in lying.reason
    elsewhere = forward_confirmed(dns, "203.0.113.6", ("googlebot.com",))
    assert not elsewhere.genuine and "not under googlebot.com" in elsewhere.reason
    # A look-alike domain is not under the suffix.
    dns.ptr["203.0.113.7"] = ["crawl.notgooglebot.com"]
    dns.addresses["crawl.notgooglebot.com"] = ["203.0.113.7"]
    assert not forward_confirmed(dns, "203.0.113.7", ("googlebot.com",)).genuine


def test_the_background_checks_are_bounded(ranges_dir: Path) -> None:
    dns = FakeDNS(ptr={}, forward={})
    guard = guard_with(ranges_dir)
    verifier = Verifier(guard.agents, data_dir=ranges_dir, resolver=dns, max_pending=5, workers=2)
    amazon = guard.agents.get("Amazonbot")
    assert amazon is not None
    for n in range(100):
        verifier.check(
            amazon, f"198.51.100.{n}"
        )  # a burst of new addresses: most are not looked up
    assert verifier.wait_idle()
    assert 5 <= len(dns.lookups) < 20
    verifier.close()
    guard.close()


def test_verification_can_be_turned_off() -> None:
    guard = Guard(parse_config("agents:\n  verify: false\n"), store=MemoryEventStore())
    assert guard.verifier is None
    assert decide(guard, GOOGLEBOT, "203.0.113.9").action is Action.ALLOW
    guard.close()


def test_unreadable_lists_fall_back_to_the_shipped_ones(ranges_dir: Path) -> None:
    for path in ranges_dir.iterdir():
        path.write_text("{not json")
    guard = guard_with(ranges_dir)
    verifier = Verifier(guard.agents, data_dir=ranges_dir)
    googlebot = guard.agents.get("Googlebot")
    guard.close()
    assert googlebot is not None
    # The shipped list answers instead.
    assert verifier.check(googlebot, "66.249.66.1") == (
        True,
        "66.249.66.1 is in Google's published ranges",
    )
    verifier.close()


def test_the_shipped_lists_catch_impostors_with_no_setup() -> None:
    guard = Guard(parse_config("agents:\n  verify_rdns: false\n"), store=MemoryEventStore())
    assert decide(guard, GOOGLEBOT, "66.249.66.1").verdict.agent_name == "Googlebot"
    assert decide(guard, GOOGLEBOT, "203.0.113.9").verdict.category is Category.SPOOFED_BOT
    assert decide(guard, GPTBOT, "198.51.100.1").verdict.category is Category.SPOOFED_BOT
    guard.close()


def test_agents_update_downloads_the_lists_and_keeps_old_ones_that_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    import httpx

    from noaiguard.cli import _update_ip_ranges

    apple = tmp_path / file_name("https://search.developer.apple.com/applebot.json")
    apple.write_text(json.dumps(GOOGLE_LIST))  # a good old copy

    def the_internet(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if "developers.google.com" in url:
            return httpx.Response(200, json=GOOGLE_LIST)
        if "openai.com/gptbot" in url:
            return httpx.Response(200, json=OPENAI_LIST)
        if "apple.com" in url:
            return httpx.Response(200, text="<html>Maintenance</html>")
        return httpx.Response(503)

    args = argparse.Namespace(config=None, dir=tmp_path)
    client = httpx.Client(transport=httpx.MockTransport(the_internet))
    code = _update_ip_ranges(args, client)
    out = capsys.readouterr().out
    assert code == 1  # some failed: the exit status says so
    assert "updated  https://openai.com/gptbot.json: 2 networks\n" in out
    assert "list dated 2026-11-01" in out  # Google's, read from its creationTime
    assert "FAILED   https://search.developer.apple.com/applebot.json: kept the old list" in out
    assert json.loads(apple.read_text()) == GOOGLE_LIST  # the old copy is still there
    assert json.loads((tmp_path / "openai.com-gptbot.json").read_text()) == OPENAI_LIST
    assert not list(tmp_path.glob("*.part"))
    # The guard reads the downloaded lists first.
    guard = guard_with(tmp_path)
    assert decide(guard, GPTBOT, "20.171.206.99").verdict.agent_name == "GPTBot"
    guard.close()
