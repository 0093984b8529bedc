"""Config files: valid ones load with paths and environment resolved; bad ones name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main as overheard
from config import ConfigError, load_config

VALID = """
timezone: Europe/London
warehouse: {path: data/overheard.duckdb}
staging: ${STAGING_ROOT:-staging}
brands:
  - {name: Acme, aliases: [Acme], hashtags: ["#acme"], handles: ["@acme"], owned_domains: [acme.com]}
competitors:
  - {name: Globex, aliases: [Globex]}
sources:
  - {kind: rss, name: news, url: "https://news.example/feed.xml", audience: 1000}
  - {kind: blog, name: blog, url: "https://blog.example/"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overheard.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.problems


def test_valid_config_resolves_paths_and_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("STAGING_ROOT", raising=False)
    config = load_config(write(tmp_path, VALID))

    assert config.warehouse.path == str(tmp_path / "data" / "overheard.duckdb")
    assert config.staging == str(tmp_path / "staging")
    assert [brand.name for brand in config.all_brands] == ["Acme", "Globex"]
    assert config.source("blog").discover == ["feed", "sitemap"]
    assert config.source("blog").max_pages_per_run == 20


def test_environment_variables_fill_strings(tmp_path, monkeypatch):
    monkeypatch.setenv("STAGING_ROOT", "s3://bucket/overheard")
    assert load_config(write(tmp_path, VALID)).staging == "s3://bucket/overheard"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("aliases: [Globex]", 'aliases: "Globex"'), "competitors[0].aliases: expected a list of strings"),
        (("aliases: [Globex]", "aliases: [Globex, 3]"), "competitors[0].aliases: expected a list of strings"),
        (('hashtags: ["#acme"]', "hashtags: [acme]"), "brands[0].hashtags: expected hashtags like '#brand', got 'acme'"),
        (("kind: blog", "kind: forum"), "sources[1]: unknown source kind 'forum'; expected one of rss, blog, x, reddit, hackernews, mastodon, google_news, bluesky, app_reviews, bluesky_jetstream, youtube"),
        (('url: "https://news.example/feed.xml"', 'url: "news.example/feed.xml"'),
         "sources[0].url: expected an http(s) URL such as https://example.com/feed.xml, got 'news.example/feed.xml'"),
        (("audience: 1000", "audience: -5"), "sources[0].audience: input should be greater than or equal to 0, got -5"),
        (("audience: 1000", "audiense: 1000"), "sources[0].audiense: unknown key (check its spelling against config/example.yaml)"),
        (("timezone: Europe/London", "timezone: Europe/Londn"),
         "timezone: unknown timezone 'Europe/Londn'; use an IANA name such as 'Europe/London'"),
        (("name: blog,", "name: news,"), "(top level): sources: the name 'news' is used twice"),
        (("{name: Globex, aliases: [Globex]}", "{name: Globex}"),
         "competitors[0]: give at least one of aliases, hashtags, handles, cashtags or query"),
        (("warehouse: {path: data/overheard.duckdb}\n", ""), "warehouse: required, but missing"),
        (("{name: Globex, aliases: [Globex]}", '{name: Globex, query: "Globex AND"}'),
         'competitors[0].query: query error at column 11: expected a term or "(" after AND, found end of query\n'
         "  Globex AND\n"
         "            ^"),
    ],
)
def test_bad_values_name_the_key_path(tmp_path, change, expected):
    old, new = change
    assert old in VALID
    assert expected in problems(tmp_path, VALID.replace(old, new, 1))


def test_every_problem_is_reported_at_once(tmp_path):
    text = VALID.replace("aliases: [Globex]", "aliases: Globex").replace("kind: blog", "kind: forum")
    assert len(problems(tmp_path, text)) == 2


def test_unset_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWS_HOST", raising=False)
    text = VALID.replace("https://news.example", "https://${NEWS_HOST}")
    assert problems(tmp_path, text) == [
        "sources[0].url: environment variable NEWS_HOST is not set (or write ${NEWS_HOST:-default})"
    ]


def test_unreadable_files_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="file not found; copy config/example.yaml"):
        load_config(tmp_path / "missing.yaml")
    assert problems(tmp_path, "brands: [\n") == ["line 2, column 1: not valid YAML (expected the node content, but found '<stream end>')"]
    assert problems(tmp_path, "- a list\n") == [
        "expected a mapping of settings at the top level (timezone, warehouse, brands, ...)"
    ]


def test_bad_config_exits_non_zero_before_collecting(tmp_path, capsys):
    path = write(tmp_path, VALID.replace("aliases: [Globex]", "aliases: Globex"))
    assert overheard(["run", "--config", str(path)]) == 2
    assert "competitors[0].aliases: expected a list of strings" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_shipped_configs_are_valid(monkeypatch):
    monkeypatch.setenv("OVERHEARD_DEMO_PORT", "8000")
    root = Path(__file__).resolve().parents[1]
    for name in ("example.yaml", "demo.yaml"):
        assert load_config(root / "config" / name).sources


PLAYBOOK = """
playbook:
  categories:
    - {name: crisis, query: '(fire OR injured)', about: any, severity: 1.0, sla_minutes: 15, queue: escalations,
       response_template: "We're sorry to see this. Please DM us now so our incident team can help straight away."}
    - {name: complaint, query: '(outage OR down OR slow*)', sentiment: [negative, neutral], sla_minutes: 60}
  queues:
    - {name: care, calendar: uk-office, agents: [{name: ana, skills: [en]}, {name: bo, skills: [en, es]}]}
    - {name: escalations}
  default_queue: care
  routing:
    - {escalated: true, queue: escalations}
    - {languages: [es], queue: care, skills: [es]}
  calendars:
    uk-office:
      timezone: Europe/London
      hours: {mon: ["08:00-20:00"], tue: ["08:00-20:00"], wed: ["08:00-20:00"], thu: ["08:00-20:00"]}
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("{escalated: true, queue: escalations}", "{escalated: true, queue: escalation}"),
         "playbook.routing[0].queue: 'escalation' is not defined; defined: care, escalations"),
        (("{name: care, calendar: uk-office,", "{name: care, calendar: uk-ofice,"),
         "playbook.queues[0].calendar: 'uk-ofice' is not defined; defined: uk-office"),
        (("sla_minutes: 60}", "sla_minutes: 60, queue: billing}"),
         "playbook.categories[1].queue: 'billing' is not defined; defined: care, escalations"),
        (("queues:\n", "priority_weights: {reach: 0.9}\n  queues:\n"),
         "playbook.priority_weights: the weights must sum to 1, not 1.700"),
        (('mon: ["08:00-20:00"]', 'mon: ["8am-8pm"]'),
         "playbook.calendars.uk-office: hours.mon[0]: '8am-8pm' is not HH:MM-HH:MM, write '08:00-20:00'"),
        (("agents: [{name: ana, skills: [en]}, {name: bo, skills: [en, es]}]", "agents: {name: ana}"),
         "playbook.queues[0].agents: input should be a valid list, got a mapping"),
        (("default_queue: care\n", "default_queue: care\n  handoff: [{categories: [crisis]}]\n"),
         "playbook.handoff: hand-off rules need a helpdesk: set playbook.helpdesk (kind: zendesk or webhook)"),
        (("default_queue: care\n", "default_queue: care\n  helpdesk: {kind: zendesk}\n  handoff: [{queues: [vip]}]\n"),
         "playbook.handoff[0].queues: 'vip' is not defined; defined: care, escalations"),
    ],
)
def test_a_playbook_mistake_is_one_line_naming_its_key_never_the_whole_playbook(tmp_path, capsys, change, expected):
    old, new = change
    assert old in PLAYBOOK
    path = write(tmp_path, VALID + PLAYBOOK.replace(old, new, 1))

    assert overheard(["check-config", str(path)]) == 2

    assert capsys.readouterr().err.splitlines() == [f"{path} is not a valid Overheard config:", f"  {expected}"]
