"""User-Agent classification: right agent, token boundaries, browsers, and hostile strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from noaiguard.agents import AgentDB
from noaiguard.agents.matcher import TokenMatcher
from noaiguard.categories import Category
from noaiguard.classify.useragent import MAX_CACHED_LENGTH, UserAgentClassifier


@pytest.fixture(scope="module")
def classify() -> UserAgentClassifier:
    return UserAgentClassifier(AgentDB.load(), cache_size=64)


# Real User-Agent strings, as the operators document or send them.
KNOWN = [
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "GPTBot",
        Category.AI_TRAINING,
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        "ClaudeBot",
        Category.AI_TRAINING,
    ),
    ("CCBot/2.0 (https://commoncrawl.org/faq/)", "CCBot", Category.AI_TRAINING),
    (
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Mobile Safari/537.36 "
        "(compatible; Bytespider; spider-feedback@bytedance.com)",
        "Bytespider",
        Category.AI_TRAINING,
    ),
    (
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "meta-externalagent",
        Category.AI_TRAINING,
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
        "+https://openai.com/bot",
        "ChatGPT-User",
        Category.AI_ASSISTANT,
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; OAI-SearchBot/1.0; "
        "+https://openai.com/searchbot",
        "OAI-SearchBot",
        Category.AI_SEARCH,
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; "
        "+https://perplexity.ai/perplexitybot)",
        "PerplexityBot",
        Category.AI_SEARCH,
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:72.0) Gecko/20100101 Firefox/72.0 "
        "(compatible; img2dataset; +https://github.com/rom1504/img2dataset)",
        "img2dataset",
        Category.AI_DATASET_TOOL,
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot",
        Category.SEARCH_ENGINE,
    ),
    (
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "bingbot",
        Category.SEARCH_ENGINE,
    ),
    (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebookexternalhit",
        Category.SOCIAL_PREVIEW,
    ),
    (
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "Discordbot",
        Category.SOCIAL_PREVIEW,
    ),
    ("Twitterbot/1.0", "Twitterbot", Category.SOCIAL_PREVIEW),
    ("Miniflux/2.1.0 (https://miniflux.app)", "Miniflux", Category.FEED_READER),
    (
        "Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)",
        "archive.org_bot",
        Category.ARCHIVER,
    ),
    ("python-requests/2.32.3", "python-requests", Category.SCRAPER_LIBRARY),
    ("curl/8.5.0", "curl", Category.SCRAPER_LIBRARY),
    ("Scrapy/2.11.2 (+https://scrapy.org)", "Scrapy", Category.SCRAPER_LIBRARY),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/124.0.0.0 Safari/537.36",
        "HeadlessChrome",
        Category.HEADLESS_BROWSER,
    ),
]


@pytest.mark.parametrize(("ua", "agent", "category"), KNOWN, ids=[k[1] for k in KNOWN])
def test_known_agents_are_recognised(
    classify: UserAgentClassifier, ua: str, agent: str, category: Category
) -> None:
    verdict = classify(ua)
    assert verdict.agent_name == agent
    assert verdict.category is category
    assert verdict.reasons and agent in verdict.reasons[0]


BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
    # Windows 7 Internet Explorer: SLCC2 must not match the ai.robots.txt token LCC.
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; SLCC2; .NET CLR 2.0.50727; "
    ".NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
]


@pytest.mark.parametrize("ua", BROWSERS)
def test_real_browsers_are_browsers(classify: UserAgentClassifier, ua: str) -> None:
    verdict = classify(ua)
    assert verdict.category is Category.BROWSER, verdict
    assert verdict.agent is None
    assert verdict.client


def test_browser_description_comes_from_user_agents_rules(classify: UserAgentClassifier) -> None:
    verdict = classify(BROWSERS[1])
    assert verdict.client == "Mobile Safari 17.4 on iOS 17.4 (mobile)"


def test_img2dataset_default_user_agent_looks_like_an_old_firefox(
    classify: UserAgentClassifier,
) -> None:
    # Without its opt-in token img2dataset is indistinguishable by User-Agent; behaviour checks
    # and the X-Robots-Tag header (which it honours) are what stop it.
    verdict = classify(
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:72.0) Gecko/20100101 Firefox/72.0"
    )
    assert verdict.category is Category.BROWSER
    assert verdict.client == "Firefox 72.0 on Ubuntu (pc)"


@pytest.mark.parametrize(
    "ua",
    [
        # Generic words of the ai.robots.txt list must not match on their own.
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "git/2.43.0 (https://codeberg.org/some/repo) fetching Code review data",
        "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/124.0 Safari/537.36 Cursor/0.40",
    ],
)
def test_generic_words_never_match_on_their_own(classify: UserAgentClassifier, ua: str) -> None:
    verdict = classify(ua)
    assert verdict.agent_name not in {"Spider", "Code", "LCC", "Operator"}


def test_product_form_tokens_still_match_their_product(classify: UserAgentClassifier) -> None:
    assert classify("Mozilla/5.0 (compatible; Code/1.2.3)").agent_name == "Code"
    assert classify("Mozilla/5.0 (compatible; Baiduspider/2.0)").agent_name == "Baiduspider"


def test_an_unknown_self_declared_crawler_is_an_unknown_bot(classify: UserAgentClassifier) -> None:
    verdict = classify("Mozilla/5.0 (compatible; NewShinyBot/1.0; +http://example.com/bot)")
    assert verdict.category is Category.UNKNOWN_BOT
    assert "NewShinyBot" in verdict.reasons[0]


@pytest.mark.parametrize(
    ("ua", "reason"),
    [
        ("", "no User-Agent"),
        ("   ", "no User-Agent"),
        ("MyTool/1.0", "neither a known agent nor a browser"),
        ("Mozilla/5.0 (X11)\x00\x01 evil", "control characters"),
        (b"\xff\xfe\xc3(binary)\x80".decode("latin-1"), "control characters"),
        ("Mozilla/5.0 \xe9\xe8 caf\xe9", "neither a known agent nor a browser"),
        ("A" * 10_000, "10000 characters long"),
    ],
)
def test_odd_user_agents_are_unknown_with_a_reason(
    classify: UserAgentClassifier, ua: str, reason: str
) -> None:
    verdict = classify(ua)
    assert verdict.category is Category.UNKNOWN
    assert reason in verdict.reasons[0]


def test_a_known_token_late_in_a_huge_user_agent_is_still_found(
    classify: UserAgentClassifier,
) -> None:
    ua = "x" * 3000 + " GPTBot/1.2"
    assert classify(ua).agent_name == "GPTBot"


def test_the_cache_is_bounded_and_skips_long_strings() -> None:
    classifier = UserAgentClassifier(AgentDB.load(), cache_size=16)
    for i in range(100):
        classifier(f"Mozilla/5.0 (X11; Linux x86_64; rv:{i}.0) Gecko/20100101 Firefox/{i}.0")
    info = classifier.cache_info()
    assert info.maxsize == 16 and info.currsize == 16
    classifier("y" * (MAX_CACHED_LENGTH + 1))
    assert classifier.cache_info().currsize == 16
    first = classifier("curl/8.5.0")
    assert classifier("curl/8.5.0") is first  # a repeat is a cache hit


class TestTokenMatcher:
    def test_boundaries_apply_where_the_token_has_letters_or_digits(self) -> None:
        matcher = TokenMatcher({"lcc/": "LCC", "gptbot": "GPTBot", "bedrockbot": "bedrock"})
        assert matcher.find("windows nt 6.1; slcc2; .net") is None
        assert matcher.find("slcc/1.0") is None
        assert matcher.find("lcc/1.0") == ("LCC", "lcc/")
        assert matcher.find("(compatible; gptbot/1.2)") == ("GPTBot", "gptbot")
        assert matcher.find("notgptbot/1.2") is None
        assert matcher.find("gptbots") is None
        assert matcher.find("bedrockbot_3f2a9c") == ("bedrock", "bedrockbot")

    def test_the_longest_token_wins_then_the_earliest(self) -> None:
        matcher = TokenMatcher({"googleother": "plain", "googleother-image": "image", "a-b": "x"})
        assert matcher.find("googleother-image/1.0") == ("image", "googleother-image")
        assert matcher.find("googleother/1.0") == ("plain", "googleother")
        two = TokenMatcher({"alpha": "A", "omega": "O"})
        assert two.find("omega alpha") == ("O", "omega")

    def test_tokens_must_be_lower_case(self) -> None:
        with pytest.raises(ValueError, match="lower-case"):
            TokenMatcher({"GPTBot": 1})

    def test_an_empty_matcher_finds_nothing(self) -> None:
        assert TokenMatcher({}).find("anything") is None


def _corpus() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {"browsers": [], "bots": []}
    current = "browsers"
    path = Path(__file__).parents[1] / "data" / "user_agents.txt"
    for line in path.read_text().splitlines():
        if line.startswith("# ["):
            current = line[3:].rstrip("]")
        elif line.strip() and not line.startswith("#"):
            sections[current].append(line)
    return sections


CORPUS = _corpus()


def test_no_real_browser_is_mistaken_for_an_agent(classify: UserAgentClassifier) -> None:
    assert len(CORPUS["browsers"]) >= 150
    mistaken = {ua: classify(ua).agent_name for ua in CORPUS["browsers"] if classify(ua).agent}
    assert mistaken == {}
    not_browsers = [
        ua for ua in CORPUS["browsers"] if classify(ua).category is not Category.BROWSER
    ]
    assert not_browsers == []


def test_real_bots_are_recognised(classify: UserAgentClassifier) -> None:
    assert len(CORPUS["bots"]) >= 100
    unknown = [ua for ua in CORPUS["bots"] if classify(ua).agent is None]
    # Ruby's Net::HTTP sends just "Ruby": too generic a word to name an agent by.
    assert unknown == ["Ruby"]
    assert classify("Ruby").category is Category.UNKNOWN
