"""The demo path through Airflow: `airflow dags test` on the sample corpus (a month), loaded into DuckDB, twice;
then the weekly report and every example query of the docs on the same warehouse."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from harlequin_duckdb import DuckDbAdapter

from cli.airflow_env import airflow_command, airflow_environment
from cli.main import main, run_cycle
from cli.warehouse_access import open_for_reading
from config import load_config
from demo.__main__ import LOGICAL_DATE, REPLAY_UNTIL, demo_services, replay_the_month
from demo.corpus_server import CorpusServer
from demo.month_replay import MONTH_START, REPLAYED_KINDS, RUN_ID_PREFIX, cycle_ends
from reports.weekly import weekly_report_data
from tests.test_docs_queries import example_queries, run_example_queries
from warehouse.snapshot import snapshot_path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "demo" / "corpus"
# A fault for the Airflow run, loaded by every Python process on PYTHONPATH: the task of one
# unit dies writing its staged files, as on a full disk, whatever its sources returned.
DOOMED_UNIT_FAULT = """
import errno

import collectors.units


def stage_unit(staging, unit, runs, stage=collectors.units.stage_unit):
    if unit.id == "blog-doomed-blog":
        raise OSError(errno.ENOSPC, "No space left on device")
    return stage(staging, unit, runs)


collectors.units.stage_unit = stage_unit
"""


@pytest.fixture(scope="module")
def airflow_metadata() -> None:
    """The test Airflow home (see conftest) with its metadata database created."""
    subprocess.run(airflow_command("db", "migrate"), env=airflow_environment(), check=True, capture_output=True)


def expected_mentions(server: CorpusServer) -> list[tuple]:
    text = (CORPUS / "expected.json").read_text(encoding="utf-8")
    for site in ("news", "homefixers", "streamsetup"):
        text = text.replace("{{" + site + "}}", server.base_url(site))
    return sorted(
        (item["url"], item["source"], item["brands"], item["owned"], item["lang"])
        for item in json.loads(text) if item["brands"]
    )


BRAND_NAMES = re.compile(r"(?<!\w)(brightwave|skylark fibre|tidewell)(?!\w)", re.IGNORECASE)


def month_mentions() -> dict[str, int]:
    """What the generated weeks (demo/corpus/month/, generate.py) add to each source: the items that name a
    brand (the others, posts about nothing the brands are called, no search returns)."""
    def load(name: str) -> dict:
        return json.loads((CORPUS / "month" / name).read_text(encoding="utf-8"))

    def naming(texts: list[str]) -> int:
        return sum(1 for text in texts if BRAND_NAMES.search(text))

    apis, reddit = load("public_apis.json"), load("reddit.json")
    feed = (CORPUS / "news" / "feeds" / "broadband-monitor.xml").read_text(encoding="utf-8")
    return {
        "x": naming([tweet["text"] for tweet in load("x.json")["tweets"]]),
        "reddit posts": naming([f"{post['title']} {post['selftext']}" for post in reddit["posts"]]),
        "reddit": naming([f"{post['title']} {post['selftext']}" for post in reddit["posts"]])
        + naming([comment["body"] for comment in reddit["comments"]]),
        "bluesky": naming([post["record"]["text"] for post in apis["bluesky"]]),
        "mastodon": naming([status["content"] for statuses in apis["mastodon"].values() for status in statuses]),
        "hacker-news": naming([hit["title"] for hit in apis["hackernews"]]),
        "google-news": naming([article["headline"] for article in apis["google_news"]]),
        "broadband-monitor": feed.count("<item>"),
        "app-store": sum(len(app["reviews"]) for app in load("app_store.json")["apps"]),
    }


# config/demo.yaml: the demo's Jetstream source reaches this far back from its window's end.
JETSTREAM_RETENTION = timedelta(hours=71)


def jetstream_mentions() -> int:
    """The demo's Bluesky posts (hand-written and generated) on the fake Jetstream within the source's retention
    that name a brand: what its first run matches."""
    posts = [*json.loads((CORPUS / "public_apis" / "bluesky.json").read_text(encoding="utf-8"))["posts"],
             *json.loads((CORPUS / "month" / "public_apis.json").read_text(encoding="utf-8"))["bluesky"]]
    return sum(
        1 for post in posts
        if LOGICAL_DATE - JETSTREAM_RETENTION <= datetime.fromisoformat(post["indexedAt"]) < LOGICAL_DATE
        and BRAND_NAMES.search(post["record"]["text"])
    )


def query(warehouse: str | Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_demo_month_through_airflow_loads_the_corpus_once(tmp_path, capsys, monkeypatch, airflow_metadata):
    (tmp_path / "config").mkdir()
    config_path = tmp_path / "config" / "demo.yaml"
    # Beside the demo's sources, a blog whose unit's task dies collecting in every attempt.
    demo_config = (REPO / "config" / "demo.yaml").read_text(encoding="utf-8")
    config_path.write_text(demo_config.replace("\nsources:\n", "\nsources:\n  - {kind: blog, name: doomed-blog, url: "
                                               "\"http://streamsetup.example/\"}\n"), encoding="utf-8")
    (tmp_path / "fault").mkdir()
    (tmp_path / "fault" / "sitecustomize.py").write_text(DOOMED_UNIT_FAULT, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "fault"), os.environ.get("PYTHONPATH", "")]))
    began = datetime.now(UTC)
    month = month_mentions()
    with demo_services(0) as services:
        server = services.corpus
        config = load_config(config_path)
        warehouse = config.warehouse.path
        replayed_sources = sorted(source.name for source in config.sources if source.kind in REPLAYED_KINDS)

        # The month as the team lived it (demo/month_replay.py): a cycle every 12 hours, the desk's work between.
        started = time.monotonic()
        replayed = replay_the_month(services, config)
        replay_seconds = time.monotonic() - started
        assert (replayed.cycles, replayed.skipped) == (len(cycle_ends(MONTH_START, REPLAY_UNTIL)), 0)
        assert replayed.desk_actions > 300
        started = time.monotonic()
        assert run_cycle(config_path, warehouse, LOGICAL_DATE.isoformat()) == 0
        wall_seconds = time.monotonic() - started
        summary = capsys.readouterr().out
        print(f"the month's replay: {replay_seconds:.1f} s")

        # The hand-written web samples (demo/corpus/README.md) come out as expected.json says.
        mentions_sql = """
            SELECT m.mention_key, m.source, list(b.brand ORDER BY b.brand), m.is_owned, m.lang
            FROM mentions m JOIN mention_brands b USING (mention_key) WHERE m.platform IN ('news', 'blog')
              AND m.source NOT IN ('google-news', 'broadband-monitor') GROUP BY ALL ORDER BY 1"""
        assert query(warehouse, mentions_sql) == expected_mentions(server)
        first_runs = query(warehouse, f"""SELECT source, status, mentions_matched, mentions_new FROM runs
                                          WHERE NOT starts_with(run_id, '{RUN_ID_PREFIX}') ORDER BY source""")
        new = {}
        for url, source, *_ in expected_mentions(server):
            new[source] = new.get(source, 0) + 1
        # telecom-daily also matched its copy of a techwire article (same URL plus utm_*): one mention, techwire's.
        matched = {**new, "telecom-daily": new["telecom-daily"] + 1}
        # The platform samples' own READMEs (demo/corpus/x, reddit, public_apis) list what each should
        # yield; the generated month adds its own.
        samples = {"bluesky": 5, "google-news": 4, "hacker-news": 6, "mastodon": 8, "reddit": 21, "x": 17, "broadband-monitor": 0,
                   "app-store": 0}
        for source, count in samples.items():
            matched[source] = new[source] = count + month[source]
        # Jetstream keeps the Bluesky posts naming a brand in its retained stretch: the search loaded them first.
        matched["bluesky_jetstream"], new["bluesky_jetstream"] = jetstream_mentions(), 0
        matched["youtube"] = new["youtube"] = 12  # demo/corpus/youtube.json says which
        # Each mention is loaded once, by the first run that saw it: the replayed sources' by the replay's cycles.
        loaded = dict(query(warehouse, "SELECT source, sum(mentions_new)::INTEGER FROM runs GROUP BY 1"))
        assert {source: count for source, count in loaded.items() if count} == {
            source: count for source, count in new.items() if count}
        assert [row for row in first_runs if row[1] != "failed" and row[0] not in replayed_sources] == [
            (source, "ok", matched[source], count) for source, count in sorted(new.items()) if source not in replayed_sources
        ]
        # The replayed sources, in the Airflow run: new only what was posted in its hour, after the replay's last cycle.
        [(late, in_the_hour)] = query(warehouse, f"""
            SELECT count(*), count(*) FILTER (WHERE published_at > TIMESTAMPTZ '{REPLAY_UNTIL.isoformat()}') FROM mentions
            WHERE NOT starts_with(first_run_id, '{RUN_ID_PREFIX}') AND source IN ({str(replayed_sources)[1:-1]})""")
        assert late == in_the_hour == sum(count for source, _, _, count in first_runs if source in replayed_sources)
        assert ("regional-gazette", "failed", 0, 0) in first_runs
        # The unit whose task died cost only its own source, said why, and held the run for one quick retry.
        assert ("doomed-blog", "failed", 0, 0) in first_runs
        assert ("doomed-blog: unit blog-doomed-blog failed in its collect step: OSError: [Errno 28] No space left on "
                "device; the unit's sources keep their cursors") in summary
        print(f"demo run with a unit that dies: {wall_seconds:.1f} s")
        assert wall_seconds < 150

        # A month: five full ISO weeks (London time) with every brand in each, and the first run's windows
        # cover them: 36 days back (backfill_days), X as far as recent search reaches, and says so.
        weeks = query(warehouse, """
            SELECT strftime(published_at AT TIME ZONE 'Europe/London', '%G-W%V') AS week, count(DISTINCT b.brand)
            FROM earned_mentions JOIN mention_brands b USING (mention_key) GROUP BY week ORDER BY week""")
        assert weeks[:5] == [(f"2026-W{week}", 3) for week in range(40, 45)]
        windows = query(warehouse, "SELECT DISTINCT source, window_start, window_end FROM runs WHERE status = 'ok' ORDER BY 1")
        month_window = (LOGICAL_DATE - timedelta(days=36), LOGICAL_DATE)
        assert [(source, (start, end)) for source, start, end in windows if source not in replayed_sources] == [
            (source, {"bluesky_jetstream": (LOGICAL_DATE - JETSTREAM_RETENTION, LOGICAL_DATE)}.get(source, month_window))
            for source in sorted(new) if source not in replayed_sources
        ]
        # The replayed sources' runs cover the month without a gap: from before W40 opens (Monday 28 September,
        # 00:00 in London; X's first run as far as its 7 days reach) to the Airflow run's end.
        for source in replayed_sources:
            spans = query(warehouse, f"SELECT window_start, window_end FROM runs WHERE source = '{source}' "
                                     "AND status <> 'failed' ORDER BY window_end")
            assert spans[0][0] <= datetime(2026, 9, 27, 23, tzinfo=UTC) and spans[-1][1] == LOGICAL_DATE, source
            assert all(start <= end for (_, end), (start, _) in zip(spans, spans[1:], strict=False)), source
        # Jetstream's ledger: the stream asked for, what lay beyond its retention, every post seen (about one in
        # two minutes names no brand; a few are reposts) against the few that matched.
        [(asked, left_out, seen)] = query(warehouse, "SELECT asked, left_out, items_fetched FROM runs "
                                                     "WHERE source = 'bluesky_jetstream'")
        assert asked == [("stream app.bsky.feed.post, app.bsky.feed.repost from 2026-10-30 13:00:00 UTC to "
                          "2026-11-02 12:00:00 UTC")]
        assert left_out == [("posts from 2026-09-27 12:00:00 UTC to 2026-10-30 13:00:00 UTC: beyond the stream's "
                             "retention (71 h before the window's end)")]
        assert 2_000 < seen < 2_200
        assert "(sources searched from 2026-09-27 12:00 or later to 2026-11-02 12:00 UTC)" in summary

        assert query(warehouse, "SELECT count(*) FROM mentions WHERE mention_key LIKE 'x:%' AND author_followers > 0") == [
            (17 + month["x"],)
        ]
        assert query(warehouse, "SELECT count(*) FROM mentions WHERE story_id IS NULL") == [(0,)]
        # YouTube comments: their author, likes and link; the channel's are Brightwave's; the run's quota and what
        # it could not read in the ledger.
        assert query(warehouse, "SELECT author_handle, url, engagement->>'likes', about_brand FROM mentions "
                                "WHERE mention_key = 'youtube:UgzOut01'") == [
            ("@callum.clarke", "https://www.youtube.com/watch?v=bwOutage0W4&lc=UgzOut01", "32", "Brightwave")
        ]
        assert query(warehouse, "SELECT items_fetched, dropped_unmatched, quota_unit, quota_used, quota_limit, left_out "
                                "FROM runs WHERE source = 'youtube'") == [
            (14, 2, "quota units", 308, 10_000, ["video bwPriceQ401: comments disabled"])
        ]
        # The quote post joins the story of the happy customer's post it quotes (demo/corpus/x/README.md).
        assert ("x:2117198102787928064", 2, 1) in query(warehouse, "SELECT story_id, mentions, links FROM stories WHERE mentions > 1")
        # Facts the stages share are typed columns, filled by the collectors (docs/data-dictionary.md):
        # per platform, mentions with a publisher, a declared language, a shared link, a community size.
        facts = {row[0]: row[1:] for row in query(warehouse, """
            SELECT platform, count(*), count(publisher), count(lang_hint), count(*) FILTER (WHERE len(shared_links) > 0),
                   count(community_size)
            FROM mentions GROUP BY platform ORDER BY platform""")}
        news = 21 + month["broadband-monitor"] + month["google-news"]  # every feed and Google News item: publisher, language
        assert facts["news"] == (news, news, news, 0, 0)
        assert facts["blog"] == (5, 5, 0, 0, 0)
        assert facts["bluesky"] == (5 + month["bluesky"], 0, 5 + month["bluesky"], 0, 0)
        assert facts["mastodon"] == (8 + month["mastodon"], 0, 8 + month["mastodon"], 0, 0)
        assert facts["x"] == (17 + month["x"], 0, 17 + month["x"], 3, 0)
        reddit = 21 + month["reddit"]  # each names its subreddit; posts (8 in the samples) carry its size
        assert facts["reddit"] == (reddit, reddit, 0, 0, 8 + month["reddit posts"])
        assert query(warehouse, "SELECT shared_links FROM mentions WHERE story_id = 'x:2117198102787928064' "
                                "AND story_reason = 'link'") == [(["https://x.com/i/web/status/2117198102787928064"],)]
        # The demo playbook triages the new earned mentions (docs/social-care.md); how many go to each
        # queue depends on the sentiment model, so the counts are the run's own, said in its summary.
        queues = query(warehouse, "SELECT queue, count(*) FROM triage_items GROUP BY 1 ORDER BY 1")
        assert [queue for queue, _ in queues] == ["care", "escalations", "retention", "sales"]
        opened = sum(count for _, count in queues)
        assert opened > 100  # a month of complaints, questions and churn talk
        this_run = query(warehouse, f"""
            SELECT t.queue, count(*), count(*) FILTER (WHERE t.escalated) FROM triage_items AS t JOIN mentions AS m
            USING (mention_key) WHERE NOT starts_with(m.first_run_id, '{RUN_ID_PREFIX}') GROUP BY 1 ORDER BY 1""")
        [(backlog,)] = query(warehouse, "SELECT count(*) FROM triage_items WHERE status IN ('open', 'claimed')")
        assert ("Triage: new items " + (", ".join(f"{queue} {count}" + (f" ({escalated} escalated)" if escalated else "")
                                                  for queue, count, escalated in this_run) or "none")
                + f"; open backlog {backlog} (") in summary
        # The month's service levels as the weekly reports show them: most items answered in time, the
        # price-rise week (W42) the worst; the safety posts escalated to the lead; staffing forecast from history.
        with open_for_reading(config) as connection:
            reports = {f"2026-W{week}": weekly_report_data(connection, config, f"2026-W{week}") for week in range(40, 45)}
        levels = {week: (sum(level.items for level in report.service_levels),
                         sum(level.within_sla for level in report.service_levels),
                         sum(level.breaches for level in report.service_levels),
                         sum(level.escalated for level in report.service_levels)) for week, report in reports.items()}
        print(f"service levels per week (items, within SLA, breached, escalated): {levels}")
        assert all(items >= 20 and within > 0 and breached > 0 for items, within, breached, _ in levels.values()), levels
        breach_shares = {week: breached / items for week, (items, _, breached, _) in levels.items()}
        assert max(breach_shares, key=lambda week: breach_shares[week]) == "2026-W42"
        assert all(within > breached for week, (_, within, breached, _) in levels.items() if week != "2026-W42")
        assert [levels[f"2026-W{week}"][3] >= 1 for week in (42, 43, 44)] == [True, True, True]
        assert reports["2026-W44"].staffing is not None
        assert set(reports["2026-W44"].staffing.weeks_used.values()) == {4}  # W40 to W43 behind each queue's forecast
        # Who handled what: every person on the roster answered or closed items, each through the desk's audit trail.
        handled = dict(query(warehouse, "SELECT actor, count(DISTINCT mention_key) FROM triage_actions "
                                        "WHERE action = 'closed' GROUP BY 1"))
        print(f"items closed per person: {handled}")
        assert set(handled) == {"ana", "bo", "chloe", "dev", "lead"} and min(handled["ana"], handled["bo"]) >= 20
        trails = query(warehouse, """
            SELECT list(action ORDER BY action_id), bool_and(acted_at >= opened_at) FROM triage_actions JOIN triage_items
            USING (mention_key) WHERE status = 'closed' GROUP BY mention_key""")
        assert {tuple(actions) for actions, _ in trails} <= {
            ("routed", "assigned", "claimed", "responded", "closed"), ("routed", "assigned", "claimed", "closed"),
            ("routed", "claimed", "responded", "closed"), ("routed", "escalated", "claimed", "responded", "closed"),
            ("routed", "claimed", "closed")}
        assert all(in_order for _, in_order in trails)
        # App Store reviews: every review once, with its stars; Brightwave's 1- and 2-star ones triaged as bad reviews.
        reviews = [review for app in json.loads((CORPUS / "month" / "app_store.json").read_text(encoding="utf-8"))["apps"]
                   for review in app["reviews"]]
        assert query(warehouse, "SELECT count(*), count(rating) FROM mentions WHERE platform = 'app_store'") == [
            (len(reviews), len(reviews))]
        [(bad_reviews,)] = query(warehouse, """SELECT count(*) FROM triage_items JOIN mentions USING (mention_key)
                                               WHERE category = 'bad-review' AND rating <= 2 AND about_brand = 'Brightwave'""")
        assert bad_reviews == sum(1 for review in reviews if int(review["im:rating"]["label"]) <= 2
                                  and "1548203317" in review["link"]["attributes"]["href"])
        # The Spanish rule holds first (routing[1]; nothing Spanish is escalated); bo speaks Spanish.
        spanish = query(warehouse, """SELECT DISTINCT queue, routed_by, assignee FROM triage_items
                                      WHERE mention_key IN (SELECT mention_key FROM mentions WHERE lang = 'es')""")
        assert spanish == [("care", "routing[1]", "bo")]
        # Themes: each week's, with the new router emerging in the last (generate.py's nova-launch).
        themes = query(warehouse, "SELECT week, brand, label, status FROM weekly_themes ORDER BY week, brand, rank")
        assert {week for week, *_ in themes} >= {"2026-W41", "2026-W43", "2026-W44"}
        assert any(week == "2026-W44" and brand == "Brightwave" and "nova" in label and status == "new"
                   for week, brand, label, status in themes), themes
        assert "regional-gazette: HTTP 404 from" in summary
        assert f"Warehouse: {warehouse}" in summary
        assert not any(path.startswith("/drafts/") for site, path in server.requests if site == "streamsetup")
        everything_sql = "SELECT * FROM mentions ORDER BY mention_key"
        before = query(warehouse, everything_sql)
        counts_sql = "SELECT (SELECT count(*) FROM triage_items), (SELECT count(*) FROM triage_actions)"
        counts_before = query(warehouse, counts_sql)

        assert run_cycle(config_path, warehouse, LOGICAL_DATE.isoformat()) == 0

        assert query(warehouse, everything_sql) == before
        routed = "SELECT count(*), count(DISTINCT mention_key) FROM triage_actions WHERE action = 'routed'"
        assert query(warehouse, routed) == [(opened, opened)]
        second_run = query(
            warehouse,
            """SELECT source, status, items_fetched, mentions_new FROM runs
               WHERE run_id = (SELECT max(run_id) FROM runs) ORDER BY source""",
        )
        assert [(source, status, new) for source, status, _, new in second_run] == [
            ("app-store", "empty", 0),
            ("bluesky", "empty", 0),
            ("bluesky_jetstream", "empty", 0),
            ("broadband-monitor", "ok", 0),
            ("consumer-watch", "ok", 0),
            ("doomed-blog", "failed", 0),
            ("forum-digest", "ok", 0),
            ("google-news", "ok", 0),
            ("hacker-news", "empty", 0),
            ("homefixers", "ok", 0),
            ("mastodon", "empty", 0),
            ("reddit", "ok", 0),
            ("regional-gazette", "failed", 0),
            ("streamsetup", "ok", 0),
            ("techwire", "ok", 0),
            ("telecom-daily", "ok", 0),
            ("x", "ok", 0),
            ("youtube", "ok", 0),
        ]
        # A second `make demo`: the month's replay finds its cycles done, and nothing is added.
        again = replay_the_month(services, config)
        assert (again.cycles, again.skipped, again.desk_actions) == (0, replayed.cycles, 0)
        assert query(warehouse, everything_sql) == before
        assert query(warehouse, counts_sql) == counts_before
    # Airflow shows the run's real start and end, and the demo's data interval.
    listed = subprocess.run(airflow_command("dags", "list-runs", "social_listening", "-o", "json"),
                            env=airflow_environment(), capture_output=True, text=True, check=True).stdout
    [demo_run] = [run for run in json.loads(listed.splitlines()[-1])  # warnings come first
                  if datetime.fromisoformat(run["logical_date"]) == LOGICAL_DATE]
    assert began <= datetime.fromisoformat(demo_run["start_date"]) < datetime.fromisoformat(demo_run["end_date"])
    assert datetime.fromisoformat(demo_run["end_date"]) - datetime.fromisoformat(demo_run["start_date"]) < timedelta(
        minutes=5)

    # The weekly_mention_report DAG, as the warehouse asset would trigger it: the demo ran on Monday
    # 2 November at noon, so the week due is 2026-W44 (26 October to 1 November, Europe/London).
    report_folder = Path(load_config(config_path).report.folder)
    log = subprocess.run(
        airflow_command("dags", "test", "weekly_mention_report", LOGICAL_DATE.isoformat(),
                        "--conf", json.dumps({"config": str(config_path)})),
        env=airflow_environment(), capture_output=True, text=True, check=False,
    )
    assert "state=success" in log.stdout + log.stderr, (log.stdout + log.stderr)[-3000:]
    assert sorted(path.name for path in report_folder.iterdir()) == [
        "overheard-2026-W44-mentions.csv", "overheard-2026-W44.html"
    ]
    report = (report_folder / "overheard-2026-W44.html").read_text(encoding="utf-8")
    assert "Brightwave" in report
    # The demo's sites are served by name (demo/corpus_server.py, named): no loopback address in the report.
    assert "news.example" in report
    # The week was collected but for the sources that failed and the stream that started on its Friday: the summary
    # names them (the failed ones' reasons are in the run summary: only the Airflow run, after the week, tried them).
    gaps = re.findall(r"source-hours had a successful run \(([^)]*)\)", report)
    assert gaps and set(gaps[0].split(", ")) == {"doomed-blog none", "regional-gazette none", "bluesky_jetstream 59 of 168 hours"}
    assert re.findall(r"127\.0\.0\.\d+|localhost", report) == []

    # The analyst's first hour on the same warehouse: every example query of the docs returns rows, with
    # counts as integers in pandas (tests/test_docs_queries.py), the Parquet ones on `overheard export`'s files.
    snapshot = snapshot_path(Path(warehouse))
    assert main(["export", "--config", str(config_path), "--to", str(tmp_path / "exports")]) == 0
    returned = run_example_queries(Path(warehouse), snapshot, tmp_path)
    assert len(returned) == len(example_queries()) and min(returned.values()) > 0
    # The SQL shell's engine (Harlequin's DuckDB adapter, as `overheard sql` starts it) opens the demo's snapshot.
    [(earned,)] = query(snapshot, "SELECT count(*) FROM earned_mentions")
    connection = DuckDbAdapter((str(snapshot),), read_only=True, no_init=True).connect()
    cursor = connection.execute("SELECT count(*) AS mentions FROM earned_mentions")
    assert cursor is not None
    assert cursor.fetchall().to_pylist() == [{"mentions": earned}]
    assert earned > 350  # the month


def test_a_run_whose_plan_fails_is_reported_failed(tmp_path, capsys, airflow_metadata):
    missing = tmp_path / "gone.yaml"  # validated by `overheard run`, then deleted before Airflow reads it

    assert run_cycle(missing, str(tmp_path / "w.duckdb")) == 1

    error = capsys.readouterr().err
    assert "gone.yaml is not a valid Overheard config" in error
    assert "The social_listening run ended failed (manual__" in error


def test_installing_the_package_warns_about_nothing():
    """`make demo` installs the project; setuptools reads its metadata without a deprecation warning."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), REPO / "pyproject.toml")

    assert [str(warning.message).splitlines()[0] for warning in caught] == []
    assert distribution.metadata.license_expression == "Apache-2.0"
