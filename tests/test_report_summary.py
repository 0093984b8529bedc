"""The weekly report's summary, coverage, site names, editions and durations, on small known warehouses.

Weeks are in UTC: 2026-W43 runs from Mon 19 Oct to Mon 26 Oct 2026 00:00, the week before from 12 Oct.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import sync_playwright
from pydantic import ValidationError

from care.staffing import QueueStaffing, staffing_plan
from config.model import REPORT_SECTIONS, Config, ReportSettings
from reports.delivery import email_report
from reports.html import duration, weekly_report_html
from reports.render import render_weekly_report
from reports.week_summary import compare_counts, summary_lines, week_summary
from reports.weekly import weekly_report_data
from warehouse.connection import open_warehouse
from tests.test_report import CHROMIUM, SmtpSink, needs_chromium, read_page

WEEK = "2026-W43"
MONDAY = datetime(2026, 10, 19, tzinfo=UTC)
PREVIOUS_MONDAY = MONDAY - timedelta(weeks=1)


PLAYBOOK = {
    "categories": [{"name": "complaint", "query": "(outage OR down)", "queue": "care", "sla_minutes": 60}],
    "queues": [{"name": "care"}],
    "default_queue": "care",
}


def make_config(tmp_path: Path, playbook: dict | None = None, **report: object) -> Config:
    return Config.model_validate({
        **({"playbook": playbook} if playbook else {}),
        "warehouse": {"path": str(tmp_path / "w.duckdb")},
        "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://news.example/feed"},
                    {"kind": "rss", "name": "blogs", "url": "https://blogs.example/feed"}],
        "report": report,
    })


class Warehouse:
    """A warehouse filled by the test: mentions at given hours, and runs collecting given spans."""

    def __init__(self, path: Path) -> None:
        self.connection = open_warehouse(path)
        self._mentions = 0
        self._runs = 0

    def mentions(self, brand: str, count: int, week_start: datetime, *, label: str | None = "neutral",
                 url: str = "https://news.example/{n}", publisher: str | None = None, extras: dict | None = None,
                 source: str = "news", story: str | None = None, title: str | None = None,
                 handles: bool = True, keys_are_urls: bool = False) -> None:
        rows = []
        for n in range(count):
            self._mentions += 1
            key = url.format(n=self._mentions) if keys_are_urls else f"m{self._mentions}"
            at = week_start + timedelta(hours=1 + (n * 7) % 160, minutes=n % 60)
            rows.append((key, source, url.format(n=self._mentions), title, f"{brand} post {n}", f"@a{n % 50}" if handles else None, at,
                         label, label, 100 + n, story, publisher, json.dumps(extras or {}), at))
        self.connection.executemany(
            """INSERT INTO mentions (mention_key, platform, source, url, title, text, author_handle, published_at,
                   sentiment_label, sentiment_score, sentiment_model, lang_model, reach_estimate, reach_model,
                   story_id, story_model, publisher, extras, is_owned, is_deleted, first_run_id, first_seen_at,
                   last_run_id, last_seen_at)
               VALUES (?, 'news', ?, ?, ?, ?, ?, ?, ?::VARCHAR, NULL,
                       CASE WHEN ?::VARCHAR IS NULL THEN NULL ELSE 'vader-3.3.2' END, 'py3langid-0.4.0', ?,
                       'reach-v2', ?, 'stories-v1', ?, ?::JSON, false, false, 'run', ?, 'run', now())""",
            [(key, source_, url_, title_, text, handle, at, label_, label__, reach, story_, publisher_, extras_, seen)
             for key, source_, url_, title_, text, handle, at, label_, label__, reach, story_, publisher_, extras_, seen
             in rows],
        )
        self.connection.executemany(
            "INSERT INTO mention_brands (mention_key, brand, role, matched_terms) VALUES (?, ?, ?, [])",
            [(row[0], brand, "brand" if brand == "Brightwave" else "competitor") for row in rows],
        )

    def collected(self, source: str, start: datetime, end: datetime, status: str = "ok", error: str | None = None) -> None:
        self._runs += 1
        self.connection.execute(
            """INSERT INTO runs (run_id, source, kind, status, items_fetched, mentions_collected, mentions_matched,
                   dropped_unmatched, mentions_new, error, warnings, duration_seconds, window_start, window_end)
               VALUES (?, ?, 'rss', ?, 0, 0, 0, 0, 0, ?, [], 1.0, ?, ?)""",
            [f"run-{self._runs}", source, status, error, start, end],
        )

    def both_weeks_collected(self) -> None:
        for source in ("news", "blogs"):
            self.collected(source, PREVIOUS_MONDAY, MONDAY + timedelta(weeks=1))


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    built = Warehouse(tmp_path / "w.duckdb")
    yield built
    built.connection.close()


def points_by_topic(connection: duckdb.DuckDBPyConnection, config: Config) -> dict[str, str]:
    report = weekly_report_data(connection, config, WEEK)
    return {point.topic: point.text for point in week_summary(report)}


def test_a_change_beyond_noise_is_called_a_change_with_its_test(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 120, MONDAY, label="positive")
    warehouse.mentions("Brightwave", 20, MONDAY, label="negative")
    warehouse.mentions("Brightwave", 60, PREVIOUS_MONDAY, label="positive")
    warehouse.mentions("Brightwave", 40, PREVIOUS_MONDAY, label="negative")
    warehouse.mentions("Tidewell", 60, MONDAY)
    warehouse.mentions("Tidewell", 100, PREVIOUS_MONDAY)
    points = points_by_topic(warehouse.connection, make_config(tmp_path))
    assert "coverage" not in points  # both weeks wholly collected: nothing to say about it
    assert points["volume"].startswith("Brightwave had 140 earned mentions, up 40% on week 2026-W42's 100 (beyond noise")
    assert "p = 0.01" in points["volume"]  # binomtest(140, 240, 0.5): p = 0.0117
    assert points["share_of_voice"].startswith("Brightwave's share of voice rose from 50% to 70% of the tracked brands")
    assert points["net_sentiment"].startswith("Brightwave's net sentiment rose from +0.20 to +0.71")
    assert "120 positive and 20 negative against 60 and 40" in points["net_sentiment"]


def test_differences_within_noise_are_not_called_changes(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 52, MONDAY)
    warehouse.mentions("Brightwave", 48, PREVIOUS_MONDAY)
    warehouse.mentions("Tidewell", 50, MONDAY)
    warehouse.mentions("Tidewell", 50, PREVIOUS_MONDAY)
    report = weekly_report_data(warehouse.connection, make_config(tmp_path), WEEK)
    points = {point.topic: point for point in week_summary(report)}
    assert points["volume"].text == (
        "Brightwave had 52 earned mentions, about as many as week 2026-W42's 48 "
        "(within noise: binomial test on the two counts, p = 0.76)."
    )
    assert points["volume"].change is False and points["share_of_voice"].change is False
    assert "held at 51%" in points["share_of_voice"].text
    assert points["net_sentiment"].text == "Brightwave had no positive or negative mentions this week, so no net sentiment."


def test_one_mention_against_none_is_too_few_to_compare(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 1, MONDAY)
    points = points_by_topic(warehouse.connection, make_config(tmp_path))
    assert points["volume"] == "Brightwave had 1 earned mention, against 0 in week 2026-W42: too few mentions to compare."
    assert "%" not in points["volume"]


def test_a_partly_collected_week_says_so_first_and_compares_per_collected_hour(warehouse, tmp_path):
    # This week only its first half was collected (84 of 168 hours per source): 60 mentions there are as many
    # per collected hour as 100 in the whole week before, not "down 40%".
    for source in ("news", "blogs"):
        warehouse.collected(source, PREVIOUS_MONDAY, MONDAY + timedelta(hours=84))
        warehouse.collected(source, MONDAY + timedelta(hours=100), MONDAY + timedelta(hours=101), status="failed")
    warehouse.mentions("Brightwave", 60, MONDAY)
    warehouse.mentions("Brightwave", 100, PREVIOUS_MONDAY)
    report = weekly_report_data(warehouse.connection, make_config(tmp_path), WEEK)
    points = week_summary(report)
    assert points[0].topic == "coverage" and points[0].text == (
        "Partly collected: 50% of the week's source-hours had a successful run (news 84 of 168 hours, "
        "blogs 84 of 168 hours); changes are compared per collected hour."
    )
    volume = next(point for point in points if point.topic == "volume")
    assert volume.text.startswith("Brightwave had 60 earned mentions, about as many as week 2026-W42's 100 per "
                                  "collected hour (within noise")
    assert [(source.source, source.collected_hours, source.previous_collected_hours)
            for source in report.coverage.sources] == [("news", 84.0, 168.0), ("blogs", 84.0, 168.0)]
    # The same counts over two whole weeks would be a fall beyond noise.
    assert compare_counts(60, 100) < 0.01 and compare_counts(60, 100, 0.5) > 0.05


def test_under_half_collected_refuses_the_comparison(warehouse, tmp_path):
    for source in ("news", "blogs"):
        warehouse.collected(source, PREVIOUS_MONDAY, MONDAY + timedelta(hours=20))
    warehouse.mentions("Brightwave", 30, MONDAY)
    warehouse.mentions("Brightwave", 100, PREVIOUS_MONDAY)
    points = points_by_topic(warehouse.connection, make_config(tmp_path))
    assert points["coverage"].endswith("too little was collected to compare it with the week before.")
    assert points["volume"] == "Brightwave had 30 earned mentions; there is no comparison with week 2026-W42 (see coverage)."


def test_the_summary_names_the_biggest_story_the_largest_spike_and_the_emerging_theme(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 5, MONDAY, story="s-outage", title="Brightwave outage hits Leeds",
                       publisher="Leeds Live")
    warehouse.mentions("Brightwave", 2, MONDAY, story="s-other")
    warehouse.connection.execute(
        "INSERT INTO spikes VALUES ('Brightwave', '', ?, ?, 42, 6.0, 5.2, 'spikes-v1', ?, ?)",
        [MONDAY + timedelta(hours=59), MONDAY + timedelta(hours=60),
         json.dumps({"terms": [{"term": "outage"}, {"term": "leeds"}]}), MONDAY + timedelta(hours=61)],
    )
    warehouse.connection.execute(
        """INSERT INTO themes VALUES ('t1', ?, ?, ?, 'Brightwave', 'brand', 1, 'outage in leeds',
               ['outage in leeds', 'outage', 'leeds'], [0.9, 0.5, 0.4], ['m1'], 5, 7, 5, 500, 0, 5, 0, 0,
               NULL, 0, ?, 'new', 'themes-v1')""",
        [WEEK, MONDAY, MONDAY + timedelta(weeks=1), WEEK],
    )
    points = points_by_topic(warehouse.connection, make_config(tmp_path))
    assert points["story"] == (
        "The biggest story: “Brightwave outage hits Leeds” (Leeds Live), 5 mentions by 5 authors, potential reach 510."
    )
    assert points["spikes"] == ("1 volume spike; the largest: Brightwave from Wed 21 Oct 11:00, 42 mentions in its "
                                "busiest hour against 6.0 expected, about outage, leeds.")
    assert points["theme"] == ("Emerging theme for Brightwave: “outage in leeds”, 5 mentions (71% of its mentions), "
                               "new this week.")


def test_sites_are_named_as_people_know_them_and_never_by_a_loopback_address(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 4, MONDAY, url="https://news.google.com/rss/articles/{n}", source="google_news",
                       publisher="The Guardian", extras={"publisher_url": "https://www.theguardian.com"}, handles=False)
    warehouse.mentions("Brightwave", 3, MONDAY, url="http://127.0.0.1:8081/posts/{n}", publisher="Fibre Fans Blog",
                       title="Fibre Fans review Brightwave", keys_are_urls=True)
    warehouse.connection.execute(
        """INSERT INTO triage_items (mention_key, brand, category, queue, routed_by, priority, priority_model,
               escalated, status, required_skills, opened_at, sla_minutes, due_at, first_response_at,
               first_response_minutes, updated_at)
           VALUES ('http://127.0.0.1:8081/posts/5', 'Brightwave', 'complaint', 'care', 'category', 0.5,
                   'priority-v1', false, 'open', [], ?, 60, ?, NULL, NULL, ?)""",
        [MONDAY + timedelta(hours=2), MONDAY + timedelta(hours=3), MONDAY + timedelta(hours=2)],
    )
    warehouse.mentions("Brightwave", 2, MONDAY, url="http://localhost:8082/{n}", source="acme_blog", handles=False)
    warehouse.mentions("Brightwave", 1, MONDAY, url="https://www.techwire.example/{n}")
    report = weekly_report_data(warehouse.connection, make_config(tmp_path), WEEK)
    assert [(site.site, site.domain, site.mentions) for site in report.top_sites] == [
        ("The Guardian", "theguardian.com", 4), ("Fibre Fans Blog", None, 3), ("acme_blog", None, 2),
        ("techwire.example", "techwire.example", 1),
    ]
    authors = {author.author: author.mentions for author in report.top_authors}
    assert authors["news:The Guardian"] == 4 and authors["news:acme_blog"] == 2 and "news:google_news" not in authors
    files = render_weekly_report(warehouse.connection, make_config(tmp_path, PLAYBOOK), WEEK, tmp_path / "out")
    page = read_page(files.html.read_text(encoding="utf-8"))
    assert list(page.tables["breaches"]) == ["http://127.0.0.1:8081/posts/5"]  # a key, in an attribute only
    assert "Fibre Fans review Brightwave" in page.text  # the breach is named by its headline
    assert "The Guardian theguardian.com" in page.text and "open on The Guardian" in page.text
    assert "127.0.0.1" not in page.text and "localhost" not in page.text and "google" not in page.text.lower()


def test_editions_choose_the_sections(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 3, MONDAY)
    operational = {"service-levels-section", "staffing-section", "source-health-section"}
    shown = {}
    for sections in ("marketing", "care", ["summary", "themes", "source-health"]):
        files = render_weekly_report(warehouse.connection, make_config(tmp_path, sections=sections), WEEK,
                                     tmp_path / str(sections))
        html = files.html.read_text(encoding="utf-8")
        shown[str(sections)] = {name + "-section" for name in REPORT_SECTIONS if f'id="{name}-section"' in html}
    assert shown["marketing"] == {f"{name}-section" for name in REPORT_SECTIONS} - operational
    assert shown["care"] == {f"{name}-section" for name in REPORT_SECTIONS}
    assert shown["['summary', 'themes', 'source-health']"] == {"summary-section", "themes-section",
                                                               "source-health-section"}


def test_an_unknown_section_lists_the_valid_ones():
    with pytest.raises(ValidationError, match="unknown report section 'costs': the sections are summary, coverage,"):
        ReportSettings(sections=["summary", "costs"])
    with pytest.raises(ValidationError, match="unknown report edition 'vp': use one of all, care, marketing"):
        ReportSettings(sections="vp")
    assert ReportSettings(sections=["volume", "summary"]).section_ids == ("summary", "volume")


def test_durations_read_in_minutes_hours_and_days():
    assert [duration(value) for value in (None, 45, 80, 115, 120, 47 * 60, 20_160, 3 * 1440 + 720)] == [
        "–", "45 min", "1 h 20 min", "1 h 55 min", "2 h", "47 h", "14 days", "3.5 days",
    ]


def test_the_staffing_forecast_leaves_out_weeks_nobody_collected(warehouse):
    # Ten items every Monday 09:00 for four weeks, but nothing was collected in the week of 5 Oct.
    week_start = date(2026, 10, 26)
    for back in range(1, 5):
        monday = datetime.combine(week_start - timedelta(weeks=back), datetime.min.time(), tzinfo=UTC)
        if back == 3:
            continue
        warehouse.collected("news", monday, monday + timedelta(weeks=1))
        opened = [monday + timedelta(hours=9, minutes=n) for n in range(10)]
        warehouse.connection.executemany(
            """INSERT INTO triage_items (mention_key, brand, category, queue, routed_by, priority, priority_model,
                   escalated, status, required_skills, opened_at, sla_minutes, due_at, first_response_at,
                   first_response_minutes, updated_at)
               VALUES (?, 'Brightwave', 'complaint', 'care', 'category', 0.5, 'priority-v1', false, 'open', [], ?,
                       60, ?, NULL, NULL, ?)""",
            [(f"t{back}-{n}", at, at + timedelta(hours=1), at) for n, at in enumerate(opened)],
        )
    queues = {"care": QueueStaffing(handle_seconds=300, target_share=0.8, answer_within_seconds=3600)}
    plan = staffing_plan(warehouse.connection, week_start, queues=queues)
    assert plan.weeks_used == {"care": 3}
    nine = [hour for hour in plan.hours if hour.hour_start == datetime(2026, 10, 26, 9, tzinfo=UTC)]
    assert nine[0].forecast_arrivals == pytest.approx(10.0)  # not 7.5: the uncollected week is not a week of zeros


def test_the_plain_text_summary_starts_with_the_week(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 12, MONDAY)
    report = weekly_report_data(warehouse.connection, make_config(tmp_path), WEEK)
    lines = summary_lines(report)
    assert lines[0] == "Week 2026-W43 (19 Oct to 25 Oct 2026, UTC): 12 earned mentions of the tracked brands."
    assert lines[1].startswith("Brightwave had 12 earned mentions, up from none on week 2026-W42's 0 (beyond noise")


@needs_chromium
def test_the_pdf_prints_emoji_and_cjk_with_their_fonts(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 1, MONDAY, title="Brightwave 光回線 最高 🚀🎉",
                       url="https://www.example.jp/{n}", publisher="ブロードバンド速報 📡")
    files = render_weekly_report(warehouse.connection, make_config(tmp_path), WEEK, tmp_path / "out", pdf=True)
    content = files.pdf.read_bytes()
    # Chromium embeds the fonts it drew with; without fonts-noto-color-emoji and fonts-noto-cjk it draws boxes.
    assert b"/FontFamily (Noto Color Emoji)" in content
    assert re.search(rb"/FontFamily \(Noto (Sans|Serif) CJK [A-Z]+\)", content)
    assert "光回線" in files.html.read_text(encoding="utf-8") and "🚀" in files.html.read_text(encoding="utf-8")


def test_a_brand_whose_figures_all_held_gets_one_sentence(warehouse, tmp_path):
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 60, MONDAY, label="positive")
    warehouse.mentions("Brightwave", 40, MONDAY, label="negative")
    warehouse.mentions("Brightwave", 55, PREVIOUS_MONDAY, label="positive")
    warehouse.mentions("Brightwave", 45, PREVIOUS_MONDAY, label="negative")
    warehouse.mentions("Tidewell", 100, MONDAY)
    warehouse.mentions("Tidewell", 100, PREVIOUS_MONDAY)
    points = points_by_topic(warehouse.connection, make_config(tmp_path))
    assert set(points) == {"brand"}
    assert points["brand"] == (
        "Brightwave held steady on week 2026-W42: 100 earned mentions (against 100), share of voice 50% "
        "(against 50%), net sentiment +0.20 (against +0.10); no difference is beyond noise (binomial and Fisher's "
        "exact tests on the counts, p = 1.00, 1.00 and 0.57)."
    )


def emailed_report(warehouse, tmp_path, monkeypatch):
    """The week's report as the report email carries it, received by an SMTP server on 127.0.0.1: (files, message)."""
    warehouse.both_weeks_collected()
    warehouse.mentions("Brightwave", 140, MONDAY)
    warehouse.mentions("Brightwave", 100, PREVIOUS_MONDAY)
    files = render_weekly_report(warehouse.connection, make_config(tmp_path), WEEK, tmp_path / "out")
    with SmtpSink() as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_REPORTS", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 5},
        }))
        email_report(files, smtp_conn_id="smtp_reports", to=["vp@brightwave.example"],
                     from_address="overheard@example.org", subject="Mentions, week 2026-W43")
    (message,) = sink.messages
    return files, message


class MailHtml(HTMLParser):
    """The tags, attributes and inline widths of an email's HTML body."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]


def test_the_email_keeps_to_what_mail_clients_render(warehouse, tmp_path, monkeypatch):
    files, message = emailed_report(warehouse, tmp_path, monkeypatch)

    body, *attachments = message.get_payload()
    assert (message.get_content_type(), body.get_content_type()) == ("multipart/mixed", "multipart/alternative")
    assert [part.get_filename() for part in attachments] == [files.html.name, files.csv.name]
    plain, rich = body.get_payload()
    # Clients show the last alternative they can: plain text first, HTML last.
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    text = plain.get_payload(decode=True).decode()
    assert text.startswith("Overheard: mentions in week 2026-W43\n")
    assert " ".join(text.split()).count("Brightwave had 140 earned mentions, up 40% on week 2026-W42's 100") == 1
    assert all(" ".join(point.text.split()) in " ".join(text.split()) for point in files.points)
    assert max(len(line) for line in text.splitlines()) <= 74  # wrapped for text-mode clients
    page = MailHtml(rich.get_payload(decode=True).decode())
    # Gmail and Outlook drop <style>, scripts, forms and whatever they would fetch: none of them, styles inline only.
    assert set(page.tags) <= {"html", "head", "meta", "title", "body", "table", "tr", "td", "h1", "p", "ul", "li"}
    assert {name for _, name, _ in page.attributes} <= {"lang", "charset", "name", "content", "style", "role", "width",
                                                        "cellpadding", "cellspacing", "border"}
    assert not any(re.search(r"url\(|@import|expression\(|position:|float:|display: ?(flex|grid)", value)
                   for _, name, value in page.attributes if name == "style")
    # One table carries the layout, at most 640 pixels wide, as clients that strip CSS keep its width attribute.
    assert page.tags.count("table") == 1 and ("table", "width", "600") in page.attributes
    widths = [int(width) for _, name, value in page.attributes if name == "style"
              for width in re.findall(r"(?<![-\w])width: ?(\d+)px", value)]
    assert widths and max(widths) <= 640


@needs_chromium
def test_the_email_body_shows_the_summary_in_a_browser_without_styles_or_script(warehouse, tmp_path, monkeypatch):
    files, message = emailed_report(warehouse, tmp_path, monkeypatch)
    body, *_ = message.get_payload()
    _, rich = body.get_payload()
    body_html = rich.get_payload(decode=True).decode()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM or "chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 640, "height": 800}, java_script_enabled=False)
        page.set_content(body_html)
        items = page.locator("li").all_inner_texts()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        weights = page.locator("li").evaluate_all("items => items.map(item => getComputedStyle(item).fontWeight)")
        page.screenshot(path=str(tmp_path / "email.png"), full_page=True)
        browser.close()
    assert items == [point.text for point in files.points]
    assert items[0].startswith("Brightwave had 140 earned mentions, up 40% on week 2026-W42's 100 (beyond noise")
    assert weights[0] == "700"  # a change beyond noise stands out
    assert [point.topic for point in files.points] == ["volume", "net_sentiment"]  # no competitor: no share of voice
    assert width <= 640  # fits a mail client's reading pane


@needs_chromium
def test_every_table_fits_the_page_at_1280_pixels(warehouse, tmp_path):
    # Long unbroken words, URLs and names are what push a table past the page.
    warehouse.both_weeks_collected()
    long_url = "https://www.very-long-publisher-name.example/" + "a" * 200 + "/{n}"
    warehouse.mentions("Brightwave", 12, MONDAY, url=long_url, publisher="P" * 90, title="W" * 150,
                       keys_are_urls=True, handles=False)
    warehouse.connection.execute(
        """INSERT INTO triage_items (mention_key, brand, category, queue, routed_by, priority, priority_model,
               escalated, status, required_skills, opened_at, sla_minutes, due_at, first_response_at,
               first_response_minutes, updated_at)
           SELECT mention_key, 'Brightwave', 'complaint', 'care', 'category', 0.5, 'priority-v1', false, 'open', [],
                  published_at, 60, published_at + INTERVAL 1 HOUR, NULL, NULL, published_at
           FROM mentions""",
    )
    files = render_weekly_report(warehouse.connection, make_config(tmp_path, PLAYBOOK), WEEK, tmp_path / "out")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM or "chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(files.html.resolve().as_uri())
        width = page.evaluate("document.scrollingElement.scrollWidth")
        overflowing = page.evaluate(
            "[...document.querySelectorAll('table')].filter(table => table.getBoundingClientRect().right"
            " > document.body.getBoundingClientRect().right + 1).map(table => table.id)"
        )
        tables = page.evaluate("document.querySelectorAll('table').length")
        page.screenshot(path=str(tmp_path / "report-1280.png"), full_page=True)
        browser.close()
    assert tables >= 10 and overflowing == [] and width <= 1280


def test_a_source_collected_in_neither_week_does_not_stop_the_comparison(warehouse, tmp_path):
    # "blogs" never ran (no credentials, say): named as not collected, but it gave nothing to either week.
    warehouse.collected("news", PREVIOUS_MONDAY, MONDAY + timedelta(weeks=1))
    warehouse.collected("blogs", PREVIOUS_MONDAY, MONDAY + timedelta(weeks=1), status="skipped")
    warehouse.mentions("Brightwave", 140, MONDAY)
    warehouse.mentions("Brightwave", 100, PREVIOUS_MONDAY)
    report = weekly_report_data(warehouse.connection, make_config(tmp_path), WEEK)
    summary = week_summary(report)
    assert [point.text for point in summary if point.topic == "coverage"] == [
        "Partly collected, like week 2026-W42 (50%): 50% of the week's source-hours had a successful run (blogs none); "
        "changes are compared over the sources collected in both weeks, in full.",
    ]
    points = {point.topic: point.text for point in summary}
    assert points["volume"].startswith("Brightwave had 140 earned mentions, up 40% on week 2026-W42's 100 (beyond noise: "
                                       "binomial test on the two counts, p = 0.01")


def test_a_source_that_failed_all_week_is_named_with_why(warehouse, tmp_path):
    # The news feeds were collected both weeks; the blog's every run failed: the summary says which and why.
    warehouse.collected("news", PREVIOUS_MONDAY, MONDAY + timedelta(weeks=1))
    for day in range(14):
        moment = PREVIOUS_MONDAY + timedelta(days=day)
        warehouse.collected("blogs", moment, moment + timedelta(days=1), status="failed",
                            error="HTTP 404 from http://blog.example/feed.xml; check the URL in the config")
    warehouse.mentions("Brightwave", 100, MONDAY)
    warehouse.mentions("Brightwave", 100, PREVIOUS_MONDAY)
    report = weekly_report_data(warehouse.connection, make_config(tmp_path), WEEK)
    assert [point.text for point in week_summary(report) if point.topic == "coverage"] == [
        "Partly collected, like week 2026-W42 (50%): 50% of the week's source-hours had a successful run (blogs none: "
        "HTTP 404 from http://blog.example/feed.xml; check the URL in the config); changes are compared over the "
        "sources collected in both weeks, in full.",
    ]


def test_a_source_collected_one_week_only_is_left_out_of_the_volume_comparison(warehouse, tmp_path):
    # "blogs" started this week (X's search reaching back 7 days, say): its 80 mentions are no rise.
    warehouse.collected("news", PREVIOUS_MONDAY, MONDAY + timedelta(weeks=1))
    warehouse.collected("blogs", MONDAY, MONDAY + timedelta(weeks=1))
    warehouse.mentions("Brightwave", 100, MONDAY)
    warehouse.mentions("Brightwave", 80, MONDAY, source="blogs")
    warehouse.mentions("Brightwave", 100, PREVIOUS_MONDAY)
    report = weekly_report_data(warehouse.connection, make_config(tmp_path), WEEK)
    assert report.volume_in_both == {"Brightwave": (100, 100), "Tidewell": (0, 0)}
    volume = next(point for point in week_summary(report) if point.topic == "volume")
    assert volume.text == (
        "Brightwave had 180 earned mentions, 100 of them from the 1 source collected in both weeks, about as many as "
        "week 2026-W42's 100 from those (within noise: binomial test on the two counts, p = 1.00)."
    )


def test_the_cards_call_no_change_a_change(warehouse, tmp_path):
    # Brightwave 180 against 100, but 80 of them from a source collected this week only: within noise like
    # for like, so neither its card nor the total's shows "+80%".
    warehouse.collected("news", PREVIOUS_MONDAY, MONDAY + timedelta(weeks=1))
    warehouse.collected("blogs", MONDAY, MONDAY + timedelta(weeks=1))
    warehouse.mentions("Brightwave", 100, MONDAY)
    warehouse.mentions("Brightwave", 80, MONDAY, source="blogs")
    warehouse.mentions("Brightwave", 100, PREVIOUS_MONDAY)
    cards = weekly_report_html(weekly_report_data(warehouse.connection, make_config(tmp_path), WEEK))
    cards = cards[cards.index('<dl class="cards" id="summary">'):cards.index("</dl>")]
    assert "+80%" not in cards and "80%" not in cards
    assert '<div class="card" data-key="all">' in cards and "not like for like" in cards
    assert "no clear change" in cards
