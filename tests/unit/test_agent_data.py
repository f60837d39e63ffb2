"""The crawler database: every data file loads, nothing is duplicated, every category is known."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from noaiguard.agents import AgentDB, load_agent_file
from noaiguard.categories import AGENT_CATEGORIES, Category
from noaiguard.errors import ConfigError

DATA = Path(__file__).parents[2] / "noaiguard" / "agents" / "data"
FILES = sorted(DATA.glob("*.yaml"))
AI_ROBOTS_TXT_NAMES = [
    line.strip()
    for line in (Path(__file__).parents[1] / "data" / "ai_robots_txt_names.txt")
    .read_text()
    .splitlines()
    if line.strip() and not line.startswith("#")
]


@pytest.fixture(scope="module")
def db() -> AgentDB:
    return AgentDB.load()


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_data_file_loads_on_its_own(path: Path) -> None:
    located = load_agent_file(path.read_text("utf-8"), str(path))
    assert located, f"{path.name} has no agents"
    for item in located:
        assert item.agent.category in AGENT_CATEGORIES
        assert item.agent.operator


def test_the_whole_database_loads_without_clashes(db: AgentDB) -> None:
    assert len(db) == sum(len(load_agent_file(p.read_text(), str(p))) for p in FILES)
    names = Counter(agent.name.lower() for agent in db)
    assert [n for n, c in names.items() if c > 1] == []
    ua_tokens = Counter(t.lower().rstrip("/") for agent in db for t in set(agent.ua))
    assert [t for t, c in ua_tokens.items() if c > 1] == []
    robots_tokens = Counter(t.lower() for agent in db for t in agent.robots)
    assert [t for t, c in robots_tokens.items() if c > 1] == []


def test_every_category_that_an_agent_may_have_is_populated(db: AgentDB) -> None:
    counts = Counter(agent.category for agent in db)
    assert set(counts) == set(AGENT_CATEGORIES)
    assert counts[Category.AI_TRAINING] >= 50
    assert counts[Category.SEARCH_ENGINE] >= 20


def test_every_agent_of_the_ai_robots_txt_list_is_known(db: AgentDB) -> None:
    known = {t.lower() for agent in db for t in agent.robots}
    known |= {t.lower().rstrip("/") for agent in db for t in agent.ua}
    missing = []
    for name in AI_ROBOTS_TXT_NAMES:
        lowered = name.lower()
        bare = lowered.split("/")[0].removesuffix(" 1.0")
        if lowered not in known and bare not in known:
            missing.append(name)
    assert len(AI_ROBOTS_TXT_NAMES) == 166
    assert missing == []


def test_robots_only_tokens_never_match_a_user_agent(db: AgentDB) -> None:
    for name in ("Google-Extended", "Applebot-Extended"):
        agent = db.get(name)
        assert agent is not None and agent.robots_only and not agent.ua
        assert agent.category is Category.AI_TRAINING


def test_verification_data_where_operators_publish_it(db: AgentDB) -> None:
    googlebot = db.get("Googlebot")
    assert googlebot is not None and googlebot.verify is not None
    assert "googlebot.com" in googlebot.verify.rdns
    assert googlebot.verify.ip_ranges and googlebot.verify.ip_ranges.startswith("https://")
    gptbot = db.get("GPTBot")
    assert gptbot is not None and gptbot.verify is not None
    assert gptbot.verify.ip_ranges == "https://openai.com/gptbot.json"


def _load_files(tmp_path: Path, **files: str) -> None:
    paths = []
    for name, text in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        paths.append(path)
    AgentDB.load(files=paths)


def test_duplicates_across_files_are_rejected_with_both_places(tmp_path: Path) -> None:
    entry = "agents:\n  - name: {}\n    category: ai-training\n    ua: [{}]\n"
    one = "operator: A\n" + entry.format("Harvester", "Harvester")
    two = "operator: B\n" + entry.format("Other", "harvester")
    with pytest.raises(ConfigError) as caught:
        _load_files(tmp_path, one=one, two=two)
    (issue,) = caught.value.issues
    assert issue.path.endswith("two.yaml") and issue.line == 3
    assert "'harvester' of Other is already used by Harvester" in issue.message
    assert "one.yaml:3" in issue.message


def test_unknown_categories_and_runtime_categories_are_rejected(tmp_path: Path) -> None:
    text = (
        "operator: A\nagents:\n"
        "  - name: One\n    category: ai-trainer\n    ua: [OneCrawler]\n"
        "  - name: Two\n    category: spoofed-bot\n    ua: [TwoCrawler]\n"
    )
    with pytest.raises(ConfigError) as caught:
        _load_files(tmp_path, bad=text)
    messages = [str(i) for i in caught.value.issues]
    assert any("agents[0].category: unknown value 'ai-trainer'" in m for m in messages)
    assert any("did you mean 'ai-training'" in m for m in messages)
    assert any("agents[1].category: spoofed-bot is decided at run time" in m for m in messages)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("Spider", "common word"),
        ("code", "common word"),
        ("LCC", "too short"),
        ("YaK", "too short"),
        ("curl", "short enough to occur by chance"),
    ],
)
def test_generic_and_short_tokens_must_take_the_product_form(
    tmp_path: Path, token: str, problem: str
) -> None:
    text = f"operator: A\nagents:\n  - name: X\n    category: ai-training\n    ua: [{token}]\n"
    with pytest.raises(ConfigError, match=problem):
        _load_files(tmp_path, bad=text)
    product = (
        f"operator: A\nagents:\n  - name: X\n    category: ai-training\n    ua: ['{token}/']\n"
    )
    _load_files(tmp_path, good=product)


def test_a_robots_only_agent_cannot_have_user_agent_tokens(tmp_path: Path) -> None:
    text = (
        "operator: A\nagents:\n  - name: X-Extended\n    category: ai-training\n"
        "    robots_only: true\n    robots: [X-Extended]\n    ua: [X-Extended]\n"
    )
    with pytest.raises(ConfigError, match="robots-only token never appears"):
        _load_files(tmp_path, bad=text)


def test_data_files_are_plain_yaml_with_an_agents_list() -> None:
    for path in FILES:
        data = yaml.safe_load(path.read_text())
        assert isinstance(data, dict) and isinstance(data.get("agents"), list), path.name


def test_agents_point_to_their_documentation(db: AgentDB) -> None:
    # An operator that publishes verification data documents its crawler: link to it.
    assert [a.name for a in db if a.verify and not a.docs] == []
    assert sum(1 for a in db if a.docs) / len(db) >= 0.85
