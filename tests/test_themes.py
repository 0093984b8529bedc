"""Themes: a week's mentions of a brand grouped by what they are about, labelled, counted and compared.

The warehouse holds mentions written from three known topics over two ISO weeks (2026-W44 and W45, in
Europe/London), plus chatter that belongs to none: an outage in Leeds both weeks, a price rise that grows
from 12 to 30 mentions, and a new router only in the second week.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from care.erasure import erase_author
from cli.main import main
from config.model import Config
from reports.html import weekly_report_html
from reports.weekly import weekly_report_data
from tests.test_care import MONDAY_NOON
from tests.test_desk_authorisation import number_of
from tests.test_desk_server import desk_config, served_desk, set_passwords, sign_in, triage
from warehouse.connection import open_warehouse
from warehouse.snapshot import publish_snapshot
from warehouse.themes import ThemeWeek, refresh_themes, run_weeks

ZONE = "Europe/London"
W44_MONDAY = datetime(2026, 10, 26, tzinfo=UTC)  # 2026-W44 starts at local midnight, 00:00 UTC (GMT)
TOPICS = {
    "outage": ["broadband down in Leeds", "no internet in Leeds since this morning", "outage across Leeds",
               "Leeds postcode still offline", "engineers working on the Leeds exchange", "LS6 connection dropped"],
    "price": ["price rise in April", "bill going up again", "another price increase", "monthly price hike",
              "mid contract price rise", "letter about the price change"],
    "router": ["new router arrived", "the new wifi router", "router upgrade is great", "setting up the new hub",
               "new router has mesh built in", "router app setup was easy"],
}
CHATTER = ["coffee", "weather", "match", "cat", "traffic", "holiday", "advert", "lunch", "train", "book", "gym", "pizza", "rain", "season", "garden", "bus", "concert", "birthday", "exam", "dentist", "football", "recipe", "podcast", "puppy", "bakery", "museum", "beach", "snow", "marathon", "wedding", "cinema", "library", "bicycle", "festival", "sunset", "harbour", "mountain", "violin", "chess", "painting"]
# (week, topic, mentions, sentiment): W45 has 20 outage, 30 price (12 the week before) and 15 router mentions.
PLAN = [(0, "outage", 20, "negative"), (0, "price", 12, "negative"), (1, "outage", 20, "negative"),
        (1, "price", 30, "negative"), (1, "router", 15, "positive")]
CHATTER_PER_WEEK = 12


def _post(rng: random.Random, topic: str | None) -> str:
    if topic is None:
        return f"Brightwave {' '.join(rng.sample(CHATTER, 4))}"
    phrases = rng.sample(TOPICS[topic], 2)
    return f"{rng.choice(['', 'Ugh', 'So', 'Update:'])} {phrases[0]} Brightwave {phrases[1]} {rng.choice(['', '!', 'again'])}"


@pytest.fixture
def config(tmp_path) -> Config:
    return Config.model_validate({
        "timezone": ZONE, "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "report": {"folder": str(tmp_path / "reports")},
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [{"kind": "rss", "name": "techwire", "url": "https://techwire.example/feed"}],
    })


@pytest.fixture
def topics(config) -> dict[str, str]:
    """Fill the warehouse; returns each mention key's topic ("chatter" for none)."""
    rng = random.Random(14)
    planned = [(week, topic, sentiment) for week, topic, count, sentiment in PLAN for _ in range(count)]
    planned += [(week, None, "neutral") for week in (0, 1) for _ in range(CHATTER_PER_WEEK)]
    rng.shuffle(planned)
    truth = {}
    with open_warehouse(config.warehouse.path) as connection:
        for n, (week, topic, sentiment) in enumerate(planned):
            key = f"x:{n:03d}"
            at = W44_MONDAY + timedelta(weeks=week, hours=3 + n)
            connection.execute(
                """INSERT INTO mentions (mention_key, platform, source, text, author_handle, published_at,
                       sentiment_label, reach_estimate, is_owned, first_run_id, first_seen_at, last_run_id, last_seen_at)
                   VALUES (?, 'x', 'x', ?, ?, ?, ?, ?, false, 'run-1', ?, ?, ?)""",
                [key, _post(rng, topic), f"user{n % 40}", at, sentiment, 100 + n, at, f"run-{week + 1}", at],
            )
            connection.execute(
                "INSERT INTO mention_brands (mention_key, brand, role, matched_terms) VALUES (?, 'Brightwave', 'brand', [])",
                [key],
            )
            truth[key] = topic or "chatter"
    return truth


def _themes(connection, week: str) -> dict[str, dict]:
    """The week's themes from the analysts' view, by the known topic of their mentions."""
    columns = ["theme_id", "label", "phrases", "mentions", "reach", "negative", "positive", "previous_mentions",
               "status", "first_week", "examples"]
    rows = connection.execute(f"SELECT {', '.join(columns)} FROM weekly_themes WHERE week = ? ORDER BY rank",
                              [week]).fetchall()
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def _members(connection, theme_id: str) -> list[str]:
    return [key for (key,) in connection.execute(
        "SELECT mention_key FROM mention_themes WHERE theme_id = ? ORDER BY mention_key", [theme_id]).fetchall()]


def test_themes_of_two_weeks_match_the_known_topics_and_say_what_is_new_and_growing(config, topics, capsys):
    assert main(["themes", "--config", str(config_path(config)), "--week", "2026-W45", "--weeks", "2"]) == 0
    printed = capsys.readouterr().out

    with open_warehouse(config.warehouse.path) as connection:
        by_topic = {}
        for week in ("2026-W44", "2026-W45"):
            for theme_id, theme in _themes(connection, week).items():
                members = _members(connection, theme_id)
                found = {topics[key] for key in members}
                assert len(found) == 1, f"{theme['label']} mixes {found}"
                by_topic[(week, found.pop())] = (theme, members)
        assert sorted(by_topic) == [("2026-W44", "outage"), ("2026-W44", "price"),
                                    ("2026-W45", "outage"), ("2026-W45", "price"), ("2026-W45", "router")]
        reach = dict(connection.execute("SELECT mention_key, reach_estimate FROM mentions").fetchall())

    for (week, topic), (theme, members) in by_topic.items():
        planned = next(count for w, t, count, _ in PLAN if t == topic and f"2026-W{44 + w}" == week)
        # A few posts whose words are mostly ones no other post of the week uses may be left out as noise.
        assert 0.85 * planned <= theme["mentions"] == len(members) <= planned
        assert theme["reach"] == sum(reach[key] for key in members)
        assert (theme["negative"], theme["positive"]) == ((0, len(members)) if topic == "router" else (len(members), 0))
        assert {"outage": "leeds", "price": "price", "router": "router"}[topic] in theme["label"]
        assert len(theme["examples"]) == 3 and all("Brightwave" in text for text in theme["examples"])

    statuses = {topic: (theme["status"], theme["previous_mentions"], theme["first_week"])
                for (week, topic), (theme, _) in by_topic.items() if week == "2026-W45"}
    before = {topic: theme["mentions"] for (week, topic), (theme, _) in by_topic.items() if week == "2026-W44"}
    assert statuses == {
        "outage": ("steady", before["outage"], "2026-W44"),
        "price": ("growing", before["price"], "2026-W44"),
        "router": ("new", 0, "2026-W45"),
    }
    assert "2026-W45: 3 themes" in printed and "(new; 0 the week before)" in printed


def test_themes_are_the_same_when_computed_again(config, topics):
    weeks = [ThemeWeek("2026-W44", W44_MONDAY, W44_MONDAY + timedelta(weeks=1)),
             ThemeWeek("2026-W45", W44_MONDAY + timedelta(weeks=1), W44_MONDAY + timedelta(weeks=2))]
    with open_warehouse(config.warehouse.path) as connection:
        assert refresh_themes(connection, weeks) == 5
        first = (connection.execute("SELECT * FROM themes ORDER BY theme_id").fetchall(),
                 connection.execute("SELECT * FROM mention_themes ORDER BY mention_key").fetchall())
        assert refresh_themes(connection, weeks) == 5
        again = (connection.execute("SELECT * FROM themes ORDER BY theme_id").fetchall(),
                 connection.execute("SELECT * FROM mention_themes ORDER BY mention_key").fetchall())
    assert again == first
    assert len(first[1]) >= 0.9 * 97  # of the 97 topic mentions; none of the chatter
    assert {topics[key] for key, *_ in first[1]} == {"outage", "price", "router"}


def test_a_run_recomputes_the_weeks_of_the_mentions_it_loaded(config, topics):
    with open_warehouse(config.warehouse.path) as connection:
        weeks = run_weeks(connection, "run-2", ZONE)
        # Summer time ended on 25 October 2026, so W45 starts at 00:00 UTC.
        assert weeks == [ThemeWeek("2026-W45", W44_MONDAY + timedelta(weeks=1), W44_MONDAY + timedelta(weeks=2))]
        assert refresh_themes(connection, weeks) == 3
        assert connection.execute("SELECT DISTINCT week FROM mention_themes").fetchall() == [("2026-W45",)]
        # Nothing the week before to compare with: every theme is new.
        assert {status for (status,) in connection.execute("SELECT status FROM themes").fetchall()} == {"new"}


def test_the_weekly_report_lists_the_weeks_themes(config, topics):
    assert main(["themes", "--config", str(config_path(config)), "--week", "2026-W45", "--weeks", "2"]) == 0
    with open_warehouse(config.warehouse.path) as connection:
        report = weekly_report_data(connection, config, "2026-W45")
        expected = {theme["label"]: theme for theme in _themes(connection, "2026-W45").values()}
    html = weekly_report_html(report)

    assert [(theme.label, theme.mentions, theme.status) for theme in report.themes] == [
        (label, theme["mentions"], theme["status"]) for label, theme in expected.items()
    ]
    section = html[html.index('<section id="themes-section">'):]
    section = section[:section.index("</section>")]
    for label, theme in expected.items():
        assert label in section
        assert f'data-col="mentions" data-value="{theme["mentions"]}"' in section
        assert theme["examples"][0].split()[0] in section
    assert section.count('data-value="new"') == 1 and section.count('data-value="growing"') == 1


def config_path(config: Config) -> Path:
    """The config as a file beside the warehouse (the CLI reads a file)."""
    path = Path(config.warehouse.path).with_name("config.yaml")
    path.write_text(config.model_dump_json(exclude_none=True), encoding="utf-8")
    return path


def test_the_desks_item_page_names_the_theme_of_the_items_mention(tmp_path):
    config = desk_config(tmp_path)
    rng = random.Random(7)
    posts = [(f"x:{n}", _post(rng, "outage")) for n in range(1, 11)]
    posts += [(f"x:{n}", _post(rng, None)) for n in range(11, 21)]
    posts.append(("x:21", "Brightwave billed me twice this month"))  # a complaint in no theme
    triage(config, "run-1", MONDAY_NOON, *posts)
    set_passwords(config)
    with open_warehouse(config.warehouse.path) as connection:
        assert refresh_themes(connection, run_weeks(connection, "run-1", config.timezone)) == 1
        [(label, mentions, members)] = connection.execute(
            "SELECT label, mentions, list(mention_key) FROM themes JOIN mention_themes USING (theme_id) GROUP BY ALL"
        ).fetchall()
        [(item,)] = connection.execute(
            "SELECT min(mention_key) FROM triage_items WHERE list_contains(?, mention_key)", [members]
        ).fetchall()
        publish_snapshot(connection, config.warehouse.path, "run-1")
    assert "leeds" in label and mentions >= 8 and set(members) <= set(dict(posts[:10]))

    with served_desk(config) as base:
        lead = sign_in(base, "lead")
        page = lead.get(f"{base}/items/{number_of(lead, base, item)}").text
        assert f"Theme: <strong>{label}</strong> ({mentions} mentions in week 2026-W45, new)" in page
        assert "Theme:" not in lead.get(f"{base}/items/{number_of(lead, base, 'x:21')}").text


def test_erasing_an_author_takes_their_mentions_out_of_the_themes(config, topics):
    weeks = [ThemeWeek("2026-W44", W44_MONDAY, W44_MONDAY + timedelta(weeks=1))]
    with open_warehouse(config.warehouse.path) as connection:
        refresh_themes(connection, weeks)
        examples = {key for (keys,) in connection.execute("SELECT example_keys FROM themes").fetchall() for key in keys}
        [(author,)] = connection.execute(  # the author of a theme's first example
            "SELECT author_handle FROM mentions WHERE mention_key = (SELECT min(example_keys[1]) FROM themes)").fetchall()
        theirs = {key for (key,) in connection.execute(
            "SELECT mention_key FROM mentions WHERE author_handle = ?", [author]).fetchall()}

        erase_author(connection, "x", author, "dpo", W44_MONDAY + timedelta(weeks=3))

        assert not theirs & {key for (key,) in connection.execute("SELECT mention_key FROM mention_themes").fetchall()}
        kept = {key for (keys,) in connection.execute("SELECT example_keys FROM themes").fetchall() for key in keys}
        assert kept == examples - theirs
