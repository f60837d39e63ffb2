"""The YAML config: defaults, the ready files, and errors a person can fix in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette

from noaiguard import Config, ConfigError, Guard, NoAIGuardMiddleware, load_config, parse_config
from noaiguard.categories import Category
from noaiguard.config import Action, Mode
from tests.conftest import CONFIGS


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_empty_file_is_the_built_in_default() -> None:
    assert parse_config("", "empty.yaml") == Config(source="empty.yaml")
    assert parse_config("# nothing but a comment\n") == Config(source="<string>")


def test_default_yaml_spells_out_the_defaults() -> None:
    written = load_config(Path(__file__).parents[2] / "configs" / "default.yaml")
    builtin = Config()
    assert written.mode == builtin.mode
    assert written.signals == builtin.signals
    assert written.store == builtin.store
    assert Guard(written).policy.decide.__self__ is not None  # builds
    # Every category default is written out, and matches the built-in table.
    from noaiguard.policy import DEFAULT_ACTIONS

    assert dict(written.policy.categories) == dict(DEFAULT_ACTIONS)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_ready_configs_load_and_build_a_guard(path: Path) -> None:
    config = load_config(path)
    assert config.source == str(path)
    guard = Guard(config)
    assert guard.robots is not None
    assert "GPTBot" in guard.robots.tokens


def test_ready_configs_mean_what_their_names_say() -> None:
    by_name = {p.stem: load_config(p) for p in CONFIGS}
    assert set(by_name) == {"default", "portfolio", "monitor", "strict"}
    assert by_name["monitor"].mode is Mode.MONITOR
    assert by_name["portfolio"].policy.categories[Category.AI_SEARCH] is Action.BLOCK
    assert by_name["strict"].policy.categories[Category.SCRAPER_LIBRARY] is Action.BLOCK
    assert by_name["strict"].policy.block.status == 451


def test_error_format_is_path_line_column_key_message() -> None:
    text = "mode: enforce\npolicy:\n  block:\n    status: 302\n"
    assert issues_of(text) == [
        "site.yaml:4:13: policy.block.status: expected a 4xx or 5xx status, got 302"
    ]


def test_every_problem_is_reported_in_one_pass() -> None:
    text = """\
mode: enforcing
policy:
  categories:
    ai-trainin: block
    ai-search: deny
  agents:
    GPTBott: allow
  rules:
    - paths: press/**
      action: allow
signals:
  x_robots_tag:
    directives: [noai, noindex]
  robots_txt:
    app_cache_secnds: 10
network:
  trusted_proxies: [10.0.0.300]
store:
  url: mongodb://x
  queue_size: many
"""
    found = issues_of(text)
    assert found == [
        "site.yaml:1:7: mode: unknown value 'enforcing'; expected one of enforce, monitor; "
        "did you mean 'enforce'?",
        found[1],
        "site.yaml:5:16: policy.categories.ai-search: unknown value 'deny'; expected one of "
        "allow, log, tarpit, block",
        "site.yaml:7:5: policy.agents.GPTBott: unknown agent; did you mean 'GPTBot'?",
        "site.yaml:9:14: policy.rules[0].paths: path 'press/**' must start with '/'",
        "site.yaml:13:17: signals.x_robots_tag.directives: 'noindex' is not an AI opt-out "
        "directive; use noai, noimageai, noml, noarchive, nocache",
        "site.yaml:15:5: signals.robots_txt.app_cache_secnds: unknown key; did you mean "
        "'app_cache_seconds'?",
        "site.yaml:17:20: network.trusted_proxies: '10.0.0.300' is not an IP address or "
        "network like 10.0.0.0/8",
        "site.yaml:19:8: store.url: unknown store 'mongodb://x'; expected a URL starting with "
        "memory://, sqlite://, postgresql://, postgres://",
        "site.yaml:20:15: store.queue_size: expected a whole number, got 'many'",
    ]
    assert found[1].startswith("site.yaml:4:5: policy.categories.ai-trainin: unknown value")
    assert found[1].endswith("did you mean 'ai-training'?")


def test_unknown_top_level_key_suggests_the_closest() -> None:
    assert issues_of("polcy: {}\n") == ["site.yaml:1:1: polcy: unknown key; did you mean 'policy'?"]


def test_yaml_syntax_error_points_at_the_place() -> None:
    (issue,) = issues_of("mode: enforce\npolicy: [\n")
    assert issue.startswith("site.yaml:3:1: (yaml): ")


def test_duplicate_keys_are_errors_not_silently_overwritten() -> None:
    assert issues_of("mode: enforce\nmode: monitor\n") == [
        "site.yaml:2:1: mode: duplicate key (first given on line 1)"
    ]


def test_wrong_shapes_are_explained() -> None:
    found = issues_of("policy: [1, 2]\nsignals:\n  html_meta:\n    enabled: maybe\n")
    assert found == [
        "site.yaml:1:9: policy: expected a mapping, got a list",
        "site.yaml:4:14: signals.html_meta.enabled: expected true or false, got 'maybe'",
    ]


def test_yes_no_words_in_text_fields_ask_for_quotes() -> None:
    (issue,) = issues_of("policy:\n  block:\n    body: no\n")
    assert "quote it" in issue


def test_a_single_value_where_a_list_is_expected_is_a_list_of_one() -> None:
    config = parse_config("policy:\n  rules:\n    - paths: /press/**\n      action: allow\n")
    assert config.policy.rules[0].paths == ("/press/**",)


def test_rules_need_an_action() -> None:
    assert issues_of("policy:\n  rules:\n    - paths: [/a/**]\n") == [
        "site.yaml:3:7: policy.rules[0].action: missing required key"
    ]


def test_unknown_agent_in_a_rule_is_named_with_its_position() -> None:
    text = "policy:\n  rules:\n    - agents: [GPTBot, ClaudeBott]\n      action: allow\n"
    assert issues_of(text) == [
        "site.yaml:3:24: policy.rules[0].agents[1]: unknown agent 'ClaudeBott'; "
        "did you mean 'ClaudeBot'?"
    ]


def test_extra_agents_can_be_added_and_referenced() -> None:
    text = """\
agents:
  extra:
    - name: ArtHarvester
      category: ai-training
      operator: Example Corp
      ua: [ArtHarvester]
      robots: [ArtHarvester]
policy:
  agents:
    ArtHarvester: block
"""
    config = parse_config(text)
    guard = Guard(config)
    assert guard.agents.get("artharvester") is not None
    assert "ArtHarvester" in guard.robots.tokens if guard.robots else False


def test_extra_agent_problems_are_reported() -> None:
    text = "agents:\n  extra:\n    - name: X\n      category: browser\n      ua: [Code]\n"
    found = issues_of(text)
    assert any("browser is decided at run time" in f for f in found)
    assert any("'Code' is a common word" in f for f in found)
    text = "agents:\n  extra:\n    - name: X\n      category: ai-training\n      ua: [XHarvest]\n"
    assert issues_of(text) == ["site.yaml:3:5: agents.extra: extra[0] (X): give its operator"]


def test_missing_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config("/nonexistent/noaiguard.yaml")


def test_middleware_refuses_to_start_on_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: sometimes\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:1:7: mode: unknown value"):
        NoAIGuardMiddleware(Starlette(), config=bad)
    with pytest.raises(ConfigError):
        NoAIGuardMiddleware(Starlette(), config=str(bad))


def test_config_objects_are_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.mode = Mode.MONITOR  # type: ignore[misc]


def test_store_privacy_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOAIGUARD_IP_HASH_KEY", raising=False)
    assert issues_of("store:\n  ip_privacy: anonymous\n") == [
        "site.yaml:2:15: store.ip_privacy: unknown value 'anonymous'; expected one of full, "
        "truncate, hash"
    ]
    assert issues_of("store:\n  ip_privacy: hash\n") == [
        "site.yaml:2:3: store.ip_hash_key: ip_privacy: hash needs a secret key here or in "
        "$NOAIGUARD_IP_HASH_KEY"
    ]
    monkeypatch.setenv("NOAIGUARD_IP_HASH_KEY", "from-the-environment")
    assert parse_config("store:\n  ip_privacy: hash\n").store.hash_key == "from-the-environment"
    assert parse_config("").store.ip_privacy == "truncate"
