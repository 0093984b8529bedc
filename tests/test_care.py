"""Social care on the warehouse: categories, priority, routing, assignment, the desk, service levels,
escalation, breach and spike alerts, and erasing an author."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from care.desk import TriageDesk, TriageError
from care.erasure import erase_author
from care.priority import priority_parts
from care.triage import CareStep
from cli.main import main
from config import ConfigError, load_config
from config.model import Config
from warehouse.connection import open_warehouse
from warehouse.daily_aggregates import refresh_daily_aggregates

MONDAY_NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)  # Europe/London is on UTC in November

PLAYBOOK = {
    "categories": [
        {"name": "crisis", "query": '(fire OR injured OR "data breach")', "about": "any", "severity": 1.0,
         "sla_minutes": 15, "escalate": True, "queue": "escalations", "response_template": "Please DM us now."},
        {"name": "complaint", "query": "(outage OR down OR slow OR billed)", "sentiment": ["negative", "neutral"],
         "severity": 0.6, "sla_minutes": 60},
        {"name": "competitor-complaint", "query": "(outage OR down OR slow)", "about": "competitor",
         "sentiment": ["negative"], "severity": 0.3, "sla_minutes": 480, "queue": "sales"},
        {"name": "praise", "query": "(thanks OR brilliant)", "sentiment": ["positive"], "severity": 0.1,
         "sla_minutes": 1440},
    ],
    "queues": [
        {"name": "care", "calendar": "office",
         "agents": [{"name": "ana", "skills": ["en"]}, {"name": "bo", "skills": ["en", "es"]}]},
        {"name": "escalations"},
        {"name": "sales", "calendar": "office"},
    ],
    "default_queue": "care",
    "leads": ["lead"],
    "routing": [{"escalated": True, "queue": "escalations"}, {"languages": ["es"], "queue": "care", "skills": ["es"]}],
    "calendars": {"office": {"timezone": "Europe/London", "hours": {
        day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}, "holidays": ["2026-11-03"]}},
    "escalation_threshold": 0.7,
    "spikes": {"min_volume": 10, "baseline_weeks": 2},
}


@pytest.fixture
def config(tmp_path) -> Config:
    return Config.model_validate({
        "timezone": "Europe/London",
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}],
        "playbook": PLAYBOOK,
    })


@pytest.fixture
def warehouse(config):
    connection = open_warehouse(config.warehouse.path)
    yield connection
    connection.close()


def add_mention(connection, key: str, text: str, run: str, seen: datetime, *, brand="Brightwave", role="brand",
                sentiment=-0.6, lang="en", followers=100, reach=100, author="someone", engagement=None,
                platform="x", source="x", published=None) -> None:
    """A loaded mention (as `warehouse.load` leaves it): first seen in `run` at `seen`, or seen again."""
    label = "negative" if sentiment <= -0.05 else "positive" if sentiment >= 0.05 else "neutral"
    connection.execute(
        """
        INSERT INTO mentions (mention_key, platform, source, url, text, author_handle, author_followers,
            published_at, engagement, lang, sentiment_label, sentiment_score, reach_estimate, is_owned,
            first_run_id, first_seen_at, last_run_id, last_seen_at)
        VALUES ($key, $platform, $source, $url, $text, $author, $followers, $published, $engagement, $lang, $label,
                $sentiment, $reach, false, $run, $seen, $run, $seen)
        ON CONFLICT (mention_key) DO UPDATE SET engagement = excluded.engagement, last_run_id = excluded.last_run_id,
            last_seen_at = excluded.last_seen_at
        """,
        {"key": key, "platform": platform, "source": source, "url": f"https://x.example/{key}", "text": text,
         "author": author,
         "followers": followers, "published": published or seen, "engagement": json.dumps(engagement or {}),
         "lang": lang, "label": label, "sentiment": sentiment, "reach": reach, "run": run, "seen": seen},
    )
    connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) VALUES (?, ?, ?, []) ON CONFLICT DO NOTHING", [key, brand, role])


def items(connection) -> dict[str, tuple]:
    rows = connection.execute(
        "SELECT mention_key, category, queue, routed_by, escalated, assignee, due_at, status FROM triage_items"
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def first_batch(connection) -> None:
    add_mention(connection, "x:1", "Brightwave outage in Leeds again", "run-1", MONDAY_NOON)
    add_mention(connection, "x:2", "Brightwave so slow tonight", "run-1", MONDAY_NOON)
    add_mention(connection, "x:3", "Brightwave caída otra vez, outage", "run-1", MONDAY_NOON, lang="es")
    add_mention(connection, "x:4", "Brightwave router caught fire, my son was injured", "run-1", MONDAY_NOON)
    add_mention(connection, "x:5", "Tidewell down all day", "run-1", MONDAY_NOON, brand="Tidewell", role="competitor")
    add_mention(connection, "x:6", "Thanks Brightwave, brilliant engineer", "run-1", MONDAY_NOON, sentiment=0.8)
    add_mention(connection, "x:7", "Brightwave announced its results", "run-1", MONDAY_NOON, sentiment=0.0)


def test_new_mentions_are_categorised_scored_routed_and_assigned_fairly(config, warehouse):
    first_batch(warehouse)
    outcome = CareStep(warehouse, config, "run-1", MONDAY_NOON).run()

    assert (outcome.categorised, outcome.opened, outcome.escalated) == (6, 6, 1)
    opened = items(warehouse)
    assert {key: value[:3] for key, value in opened.items()} == {
        "x:1": ("complaint", "care", "default_queue"),
        "x:2": ("complaint", "care", "default_queue"),
        "x:3": ("complaint", "care", "routing[1]"),
        "x:4": ("crisis", "escalations", "routing[0]"),
        "x:5": ("competitor-complaint", "sales", "category"),
        "x:6": ("praise", "care", "default_queue"),
    }
    # Highest priority first (x:1-x:3 tie, then by key; x:6 is lower), each to the able agent with the
    # fewest open items, then idle longest (nobody has acted yet), then by name. x:3 needs Spanish: bo.
    assert {key: opened[key][4] for key in ("x:1", "x:2", "x:3", "x:6")} == {
        "x:1": "ana", "x:2": "bo", "x:3": "bo", "x:6": "ana"
    }
    assert [opened[key][4] for key in ("x:4", "x:5")] == [None, None]  # no roster on those queues
    # Monday noon + 60 business minutes on a 09:00-17:00 calendar: 13:00. Tuesday is a holiday, so the
    # praise's 1,440 minutes (3 business days) run Mon 12:00-17:00, Wed, Thu, Fri until 12:00 (24 h at 8 h a day).
    assert opened["x:1"][5] == datetime(2026, 11, 2, 13, tzinfo=UTC)
    assert opened["x:6"][5] == datetime(2026, 11, 6, 12, tzinfo=UTC)
    assert opened["x:4"][5] == MONDAY_NOON + timedelta(minutes=15)  # escalations: always open
    assert warehouse.execute(
        "SELECT mention_key, list(category ORDER BY category) FROM mention_categories GROUP BY 1 ORDER BY 1"
    ).fetchall()[3] == ("x:4", ["crisis"])
    assert [alert.alert_key for alert in outcome.alerts] == ["escalation:x:4"]
    # priority-v1: 0.25 x 0.6 negativity + 0.2 x log10(101)/7 reach + 0.3 x 1.0 severity + 0.1 x log10(101)/6
    # influence = 0.54; escalated because the crisis category always escalates.
    assert outcome.alerts[0].subject == "Escalated crisis about Brightwave (priority 0.54)"


def test_running_the_step_again_for_the_same_run_changes_nothing(config, warehouse):
    first_batch(warehouse)
    CareStep(warehouse, config, "run-1", MONDAY_NOON).run()
    tables = ("triage_items", "triage_actions", "mention_categories", "engagement_observations", "alerts")
    before = {table: warehouse.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in tables}

    again = CareStep(warehouse, config, "run-1", MONDAY_NOON).run()

    assert (again.opened, again.alerts) == (0, [])
    assert {table: warehouse.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in tables} == before


def test_the_mentions_of_a_run_whose_care_step_never_ran_are_triaged_by_the_next_one(config, warehouse):
    died = MONDAY_NOON - timedelta(hours=1)
    # run-1's load committed; its care task died. run-0 is older than the catch-up look-back (3 days).
    add_mention(warehouse, "x:1", "Brightwave outage in Leeds again", "run-1", died)
    add_mention(warehouse, "x:7", "Brightwave announced its results", "run-1", died, sentiment=0.0)
    add_mention(warehouse, "x:0", "Brightwave billed me twice", "run-0", MONDAY_NOON - timedelta(days=4))
    add_mention(warehouse, "x:2", "Brightwave so slow tonight", "run-2", MONDAY_NOON)

    outcome = CareStep(warehouse, config, "run-2", MONDAY_NOON).run()

    # x:1 opened when it was first seen, 11:00: due by 12:00 and already breached.
    assert items(warehouse) == {
        "x:1": ("complaint", "care", "default_queue", False, "ana", datetime(2026, 11, 2, 12, tzinfo=UTC), "open"),
        "x:2": ("complaint", "care", "default_queue", False, "bo", datetime(2026, 11, 2, 13, tzinfo=UTC), "open"),
    }
    assert (outcome.categorised, outcome.opened, [alert.alert_key for alert in outcome.alerts]) == (
        2, 2, ["breach:x:1"]
    )
    assert warehouse.execute("SELECT run_id FROM triaged_runs ORDER BY 1").fetchall() == [("run-1",), ("run-2",)]

    later = CareStep(warehouse, config, "run-3", MONDAY_NOON + timedelta(hours=1)).run()
    assert (later.categorised, later.opened) == (0, 0) and "x:0" not in items(warehouse)


def test_engagement_growth_between_runs_raises_priority_and_escalates(config, warehouse):
    add_mention(warehouse, "x:9", "Brightwave outage, third time", "run-1", MONDAY_NOON, followers=200_000,
                reach=200_000, engagement={"likes": 10, "retweets": 2, "impressions": 900})
    CareStep(warehouse, config, "run-1", MONDAY_NOON).run()
    first = warehouse.execute("SELECT priority, escalated FROM triage_items").fetchone()

    later = MONDAY_NOON + timedelta(minutes=30)
    add_mention(warehouse, "x:9", "Brightwave outage, third time", "run-2", later, followers=200_000,
                reach=200_000, engagement={"likes": 4_000, "retweets": 2_012, "impressions": 90_000})
    outcome = CareStep(warehouse, config, "run-2", later).run()

    second = warehouse.execute("SELECT priority, escalated FROM triage_items").fetchone()
    parts = priority_parts(-0.6, 200_000, 12_000, 0.6, 200_000)  # 6,000 more interactions in half an hour
    assert first == (priority_parts(-0.6, 200_000, None, 0.6, 200_000).score(config.playbook.priority_weights), False)
    assert second == (parts.score(config.playbook.priority_weights), True) and parts.velocity == 1.0
    assert [alert.alert_key for alert in outcome.alerts] == ["escalation:x:9"]
    assert warehouse.execute("SELECT engagement FROM engagement_observations ORDER BY observed_at").fetchall() == [
        (12,), (6_012,)
    ]


def test_an_unanswered_item_past_its_due_time_raises_one_breach_alert(config, warehouse):
    first_batch(warehouse)
    CareStep(warehouse, config, "run-1", MONDAY_NOON).run()
    TriageDesk(warehouse, "ana", config.playbook).respond("x:1", "https://x.example/reply/1", MONDAY_NOON + timedelta(minutes=20))

    at_two = MONDAY_NOON + timedelta(hours=2)
    breaches = CareStep(warehouse, config, "run-2", at_two).run().alerts
    again = CareStep(warehouse, config, "run-3", at_two + timedelta(hours=1)).run().alerts

    # Due by 13:00 and unanswered at 14:00: x:2 and x:3 (complaints); x:4 (crisis) was due 12:15.
    assert sorted(alert.alert_key for alert in breaches) == ["breach:x:2", "breach:x:3", "breach:x:4"]
    assert again == []
    subject = next(a.subject for a in breaches if a.alert_key == "breach:x:4")
    assert subject == "SLA breached: crisis about Brightwave in escalations had no response by 2026-11-02 12:15 UTC"


def test_the_desk_keeps_an_audit_trail_and_service_levels_count_on_the_business_clock(config, warehouse):
    first_batch(warehouse)
    CareStep(warehouse, config, "run-1", MONDAY_NOON).run()
    ana = TriageDesk(warehouse, "ana", config.playbook, clock=lambda: MONDAY_NOON + timedelta(minutes=5))
    lead = TriageDesk(warehouse, "lead", config.playbook, clock=lambda: MONDAY_NOON + timedelta(minutes=6))

    assert [(e.mention_key, e.priority, e.assignee) for e in ana.queue("care")] == [
        ("x:1", 0.4207, "ana"), ("x:2", 0.4207, "bo"), ("x:3", 0.4207, "bo"), ("x:6", 0.1207, "ana")
    ]
    assert [e.mention_key for e in ana.queue("care", assignee="ana")] == ["x:1", "x:6"]
    ana.claim("x:1")
    with pytest.raises(TriageError, match="already claimed by ana"):
        TriageDesk(warehouse, "bo", config.playbook).claim("x:1")
    ana.note("x:1", "customer DM'd their postcode")
    ana.respond("x:1", "https://x.example/reply/1", MONDAY_NOON + timedelta(minutes=30))
    ana.close("x:1", "fixed")
    lead.reopen("x:1", "customer says it is down again")
    lead.reassign("x:2", "bo")
    # Friday 16:30 on a 09:00-17:00 calendar: x:6's response is late by 4.5 business hours.
    ana.respond("x:6", "https://x.example/reply/6", datetime(2026, 11, 6, 16, 30, tzinfo=UTC))
    with pytest.raises(TriageError, match="no triage item"):
        ana.claim("x:404")
    with pytest.raises(TriageError, match="is responded; this action needs it to be closed"):
        lead.reopen("x:6")

    assert [(actor, action) for _, actor, action, _ in ana.history("x:1")] == [
        ("overheard", "routed"), ("overheard", "assigned"), ("ana", "claimed"), ("ana", "note"),
        ("ana", "responded"), ("ana", "closed"), ("lead", "reopened"),
    ]
    assert warehouse.execute(
        "SELECT status, assignee, first_response_minutes, closed_at FROM triage_items WHERE mention_key = 'x:1'"
    ).fetchone() == ("open", "ana", 30.0, None)  # back in the inbox, its first response kept
    # Mon 12:00-17:00, Wed-Thu 8 h each (Tuesday is a holiday), Fri 09:00-16:30: 5 + 16 + 7.5 = 28.5 h.
    assert warehouse.execute(
        "SELECT first_response_minutes FROM triage_items WHERE mention_key = 'x:6'"
    ).fetchone() == (28.5 * 60,)
    levels = warehouse.execute(
        "SELECT agent, items, responded, within_sla, share_within_sla, breaches FROM service_levels "
        "WHERE queue = 'care' ORDER BY agent"
    ).fetchall()
    # ana: x:1 answered in 30 minutes, x:6 late; bo: x:2 (reassigned to him) and x:3 unanswered past 13:00.
    assert levels == [("ana", 2, 2, 1, 0.5, 1), ("bo", 2, 0, 0, 0.0, 2)]


def test_erasing_an_author_deletes_their_mentions_and_pseudonymises_the_triage_history(config, warehouse):
    add_mention(warehouse, "x:1", "Brightwave outage again", "run-1", MONDAY_NOON, author="kez")
    add_mention(warehouse, "x:2", "Brightwave slow for me too", "run-1", MONDAY_NOON, author="sam")
    CareStep(warehouse, config, "run-1", MONDAY_NOON).run()
    TriageDesk(warehouse, "ana", config.playbook).note("x:1", "@kez says Kez lives in Leeds")
    refresh_daily_aggregates(warehouse)  # as the load that brought the two mentions did
    authors = "SELECT sum(mentions), sum(unique_authors) FROM daily_volume"
    assert warehouse.execute(authors).fetchone() == (2, 2)

    erased = erase_author(warehouse, "x", "@KEZ", "dpo", MONDAY_NOON + timedelta(days=1))

    assert (erased.mentions_deleted, erased.triage_items_pseudonymised, erased.actions_pseudonymised) == (1, 1, 3)
    assert warehouse.execute("SELECT mention_key FROM mentions").fetchall() == [("x:2",)]
    assert warehouse.execute("SELECT count(*) FROM mention_brands WHERE mention_key = 'x:1'").fetchone() == (0,)
    [(pseudonym, category)] = warehouse.execute(
        "SELECT mention_key, category FROM triage_items WHERE mention_key <> 'x:2'"
    ).fetchall()
    assert pseudonym.startswith("erased:") and category == "complaint"
    trail = warehouse.execute(
        "SELECT actor, action, detail::VARCHAR FROM triage_actions WHERE mention_key = ? ORDER BY action_id", [pseudonym]
    ).fetchall()
    assert [row[:2] for row in trail] == [("overheard", "routed"), ("overheard", "assigned"), ("ana", "note"),
                                          ("dpo", "erased")]
    assert "kez" not in json.dumps(trail).lower()
    assert "[erased author] says [erased author] lives in Leeds" in trail[2][2]
    assert warehouse.execute("SELECT count(*) FROM triage_actions WHERE mention_key = 'x:1'").fetchone() == (0,)
    assert warehouse.execute(authors).fetchone() == (1, 1)


def test_erasing_a_co_author_deletes_the_pages_whose_byline_names_them(config, warehouse):
    add_mention(warehouse, "https://blog.example/a", "Brightwave review", "run-1", MONDAY_NOON, author="Jeff Foust",
                platform="blog", source="blog")
    add_mention(warehouse, "https://blog.example/b", "Brightwave speeds", "run-1", MONDAY_NOON, author="Ana Ruiz",
                platform="blog", source="blog")
    warehouse.execute("UPDATE mentions SET authors = ['Jeff Foust', 'Molly Wood'] WHERE mention_key LIKE '%/a'")

    erased = erase_author(warehouse, "blog", "molly wood", "dpo", MONDAY_NOON + timedelta(days=1))

    assert erased.mentions_deleted == 1
    assert warehouse.execute("SELECT mention_key FROM mentions").fetchall() == [("https://blog.example/b",)]


def spiky_warehouse(connection) -> datetime:
    """Two quiet weeks (one Brightwave mention every hour), then 30 mentions about an outage in one hour."""
    start = MONDAY_NOON - timedelta(weeks=2)
    for hour in range(24 * 14):
        at = start + timedelta(hours=hour)
        add_mention(connection, f"x:q{hour}", "Brightwave announced a new tariff", "old", at, sentiment=0.0)
    spike = MONDAY_NOON - timedelta(hours=1)
    for n in range(30):
        add_mention(connection, f"x:s{n}", f"Brightwave outage in Leeds, number {n}", "run-1", MONDAY_NOON,
                    author=f"user{n % 3}", published=spike + timedelta(minutes=n))
    return MONDAY_NOON


def test_a_spike_is_recorded_with_its_explanation_and_alerts_once(config, warehouse):
    now = spiky_warehouse(warehouse)
    outcome = CareStep(warehouse, config, "run-1", now).run()
    spike_alerts = [alert for alert in outcome.alerts if alert.kind == "spike"]

    # The complaint category has no history before this hour (it was first seen in it), so only the
    # brand's own series, with two weeks of history, is tested.
    assert [alert.alert_key for alert in spike_alerts] == ["spike:Brightwave:all:2026-11-02T11:00Z"]
    assert spike_alerts[0].subject == "Volume spike: Brightwave, 31 mentions at 2026-11-02 11:00 UTC (expected 1.0)"
    brand, category, mentions, explanation = warehouse.execute(
        "SELECT brand, category, mentions, explanation FROM spikes ORDER BY category"
    ).fetchone()
    assert (brand, category, mentions) == ("Brightwave", "", 31)  # the 30 and the hour's usual one
    assert {term["term"] for term in json.loads(explanation)["terms"]} >= {"outage", "leeds"}
    assert [alert.kind for alert in CareStep(warehouse, config, "run-2", now + timedelta(hours=1)).run().alerts
            if alert.kind == "spike"] == []


def test_a_spike_alert_quotes_its_widest_reaching_posts_each_with_its_author_or_its_site(config, warehouse):
    now = spiky_warehouse(warehouse)
    add_mention(warehouse, "news:leeds-outage", "Brightwave  outage leaves\nLeeds offline", "run-1", now,
                platform="news", source="news", author=None, reach=50_000, published=now - timedelta(minutes=30))
    [spike] = [alert for alert in CareStep(warehouse, config, "run-1", now).run().alerts if alert.kind == "spike"]

    assert spike.body.splitlines()[1:] == [
        "- news:news: Brightwave outage leaves Leeds offline",  # a web item has no author: its source stands in
        "- x:someone: Brightwave announced a new tariff",
        "- x:user0: Brightwave outage in Leeds, number 0",
        "- x:user1: Brightwave outage in Leeds, number 1",
        "- x:user1: Brightwave outage in Leeds, number 10",
    ]
    assert spike.link == "https://x.example/news:leeds-outage"
    assert spike.fields["Top sources"] == "x, news"


def test_playbook_mistakes_are_reported_with_their_key(tmp_path):
    broken = {**PLAYBOOK, "categories": [{**PLAYBOOK["categories"][1], "queue": "billing"}]}
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({
        "warehouse": {"path": "w.duckdb"}, "staging": "s", "brands": [{"name": "B", "aliases": ["B"]}],
        "sources": [{"kind": "rss", "name": "n", "url": "https://n.example/f"}], "playbook": broken,
    }))
    with pytest.raises(ConfigError, match=r"categories\[0\].queue: 'billing' is not defined; defined: care, escalations, sales"):
        load_config(path)
    path.write_text(path.read_text().replace('"09:00-17:00"', '"9am-5pm"').replace('"billing"', '"care"'))
    with pytest.raises(ConfigError, match=r"hours.mon\[0\]: '9am-5pm' is not HH:MM-HH:MM, write '09:00-17:00'"):
        load_config(path)


def test_the_triage_command_lists_claims_and_responds(config, warehouse, tmp_path, capsys):
    first_batch(warehouse)
    CareStep(warehouse, config, "run-1", MONDAY_NOON).run()
    warehouse.close()
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json(exclude_none=True))

    assert main(["triage", "list", "--config", str(path), "--queue", "escalations"]) == 0
    listing = capsys.readouterr().out
    assert "!   0.54  2026-11-02 12:15 escalations  crisis" in listing and "x:4" in listing
    assert "reply: Please DM us now" in listing  # the category's response template
    assert main(["triage", "claim", "x:4", "--config", str(path), "--as", "ana"]) == 0
    assert main(["triage", "respond", "x:4", "https://x.example/r", "--config", str(path), "--as", "ana",
                 "--at", "2026-11-02T12:10:00+00:00"]) == 0
    assert main(["triage", "claim", "x:4", "--config", str(path)]) == 2
    assert "needs --as NAME" in capsys.readouterr().err
    assert main(["triage", "list", "--config", str(path), "--queue", "escalations"]) == 0
    assert "No open items." in capsys.readouterr().out
    connection = open_warehouse(config.warehouse.path)
    assert connection.execute(
        "SELECT status, assignee, first_response_minutes FROM triage_items WHERE mention_key = 'x:4'"
    ).fetchone() == ("responded", "ana", 10.0)


def test_the_playbooks_alert_settings_give_the_care_task_its_notifiers():
    from care.alerts import EmailAlertNotifier, WebhookAlertNotifier, configured_notifiers
    from config.playbook import AlertSettings

    assert configured_notifiers(AlertSettings()) == {}
    notifiers = configured_notifiers(AlertSettings.model_validate(
        {"email": {"connection": "smtp_care", "to": ["leads@example.com"]}, "webhook": {"connection": "care_hook"}}
    ))
    assert isinstance(notifiers["email"], EmailAlertNotifier) and isinstance(notifiers["webhook"], WebhookAlertNotifier)
    assert (notifiers["email"].smtp_conn_id, notifiers["email"].to, notifiers["webhook"].webhook_conn_id) == (
        "smtp_care", ["leads@example.com"], "care_hook"
    )



def test_the_staffing_command_plans_next_week_from_the_triage_history(config, warehouse, tmp_path, capsys):
    # Four Mondays with 20 complaints each between 09:00 and 10:00 London time (GMT in November).
    for week in range(4):
        for n in range(20):
            seen = datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(weeks=week, minutes=3 * n)
            add_mention(warehouse, f"x:w{week}n{n}", "Brightwave outage again", f"run-{week}-{n}", seen)
            CareStep(warehouse, config, f"run-{week}-{n}", seen).run()
    warehouse.close()
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json(exclude_none=True))

    assert main(["staffing", "--config", str(path), "--week", "2026-W49"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Staffing for the week of 2026-11-30 (Europe/London), staffing-v1")
    # 20 arrivals in one hour, 6-minute handle time, 80% within the care queue's 60-minute SLA.
    assert "care           Mon 30 Nov      20.0            3            3" in lines
    assert "escalations    Mon 30 Nov       0.0            0            0" in lines


def test_the_run_summary_says_when_no_alert_channel_is_configured(config, warehouse):
    from warehouse.summary import run_summary

    first_batch(warehouse)
    CareStep(warehouse, config, "run-1", MONDAY_NOON).run()
    warehouse.execute(
        "INSERT INTO runs (run_id, source, kind, status, items_fetched, mentions_collected, mentions_matched, "
        "dropped_unmatched, mentions_new, warnings, duration_seconds, window_start, window_end, mentions_deleted) "
        "VALUES ('run-1', 'x', 'x', 'ok', 7, 7, 7, 0, 7, [], 1.0, ?, ?, 0)",
        [MONDAY_NOON - timedelta(hours=1), MONDAY_NOON],
    )
    warehouse.close()

    unsent = run_summary(config.warehouse.path, "run-1", alert_channels=[]).splitlines()
    pending = run_summary(config.warehouse.path, "run-1", alert_channels=["webhook"]).splitlines()

    assert unsent[-3].endswith(
        "; alerts: 1 recorded, not sent: no channel is configured (playbook.alerts.email or .webhook)"
    )
    assert pending[-3].endswith("; alerts not yet delivered 1")
