"""The weekly mention report's numbers, for one ISO week in the configured time zone.

Volume (per local day and per week), share of voice, net sentiment and source health are the
warehouse's formula macros (`brand_volume_of`, `share_of_voice_of`, `net_sentiment_of`,
`source_health_between`: migration 008, described in docs/views.md under "Formulas"), the ones the
analyst views read, taken here for the report week and the week before, over the earned mentions of the
configured brands and competitors (`reports.week_mentions`). Source health is as of the week's end, from
the runs whose window ended in the week; a configured source without such runs is "no runs".

The rest is selected here:
- Week-over-week change: against the ISO week before, in the same time zone. Volume changes are
  relative (+0.25 = 25% more); share and net-sentiment changes are differences (+0.05 = 5 points).
- Top mentions, authors and sites cover the mentions of the brands (role `brand`), not competitors.
  Mentions rank by `reach_estimate`, then newest first; authors by mentions, then reach (a web item's
  author is its byline, else its publisher, else its source: Google News's outlet, not Google). A site is
  named as people know it: its `publisher` (the page's og:site_name, the feed's title, Google News's
  outlet rather than Google, a subreddit), shown with its domain: the host of the outlet's address
  (Google News) or of the mention's URL, without `www.`. A loopback or local host (127.0.0.1,
  localhost) is never shown: such a site is named by its publisher, else by the source's configured name.
- Coverage: `reports.coverage` (hours of the week each configured source was collected).
- What we listened to, and what we could not: `reports.listening` (the coverage and cost ledger).
- The biggest story: the story (stories-v1) with the most of the brands' mentions in the week (at
  least two), headlined by its mention with the largest reach.
- Spikes: rows of `spikes` whose first hour is in the week, with their stored explanation.
- Categories: playbook categories (`mention_categories`) of the week's mentions.
- Service levels: triage items opened in the week, per queue. Within SLA: first response by the due
  time. A breach: first response after the due time, or none with the due time before the week's end.
  Pending: no first response yet, due after the week's end (neither met nor breached when the week
  closed). So the report of a past week reads the same whenever it is rendered.
- Staffing: `care.staffing` (staffing-v1) for the week after the report week, from the 4 weeks before
  it (the report week included).
- Formula versions: the model columns of the week's mentions, triage items and spikes, and the
  staffing formula.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

import duckdb

from care.staffing import STAFFING_MODEL, daily_staffing, queue_staffing, staffing_plan
from config.model import Config
from config.playbook import Playbook
from reports.coverage import WeekCoverage, week_coverage
from reports.listening import SourceListening, week_listening
from reports.week_mentions import WeekMentions
from reports.week_themes import WeekTheme, week_themes
from reports.weeks import ReportWeek, iso_week_label, report_week
from warehouse.sentiment_accuracy import GroupAccuracy, sentiment_agreement

TOP_MENTIONS = 10
TOP_AUTHORS = 10
TOP_SITES = 10
LISTED_BREACHES = 20
_SITE_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(?:www\.)?(\[[^\]]*\]|[^/:?#@]+)"
# Hosts a reader cannot visit: loopback, unspecified and local names (a site on them is named, never shown).
_LOCAL_HOST = (
    "host = '' OR host = 'localhost' OR host LIKE '%.localhost' OR host LIKE '127.%' OR host = '0.0.0.0' "
    "OR host LIKE '[%' OR host LIKE '%.local' OR host NOT LIKE '%.%'"
)


@dataclass(frozen=True)
class BrandVolume:
    """A brand's or competitor's mentions per local day of the week, and its week totals.

    Attributes:
        brand: the brand or competitor.
        role: `brand` or `competitor`.
        daily: mentions on each of the week's seven local days, Monday first.
        mentions: mentions in the week.
        previous_mentions: mentions in the week before.
    """

    brand: str
    role: str
    daily: tuple[int, ...]
    mentions: int
    previous_mentions: int

    @property
    def change(self) -> float | None:
        """Relative change on the week before (0.25: a quarter more); None when it had none."""
        return _relative_change(self.mentions, self.previous_mentions)


@dataclass(frozen=True)
class VoiceShare:
    """A brand's share of voice in the week and the week before (shares are None when nobody had any)."""

    brand: str
    role: str
    mentions: int
    reach: int
    unique_authors: int
    share_by_volume: float | None
    share_by_reach: float | None
    share_by_unique_authors: float | None
    previous_share_by_volume: float | None
    previous_share_by_reach: float | None
    previous_share_by_unique_authors: float | None


@dataclass(frozen=True)
class SentimentSplit:
    """A brand's mentions by sentiment label in the week, and its net sentiment then and the week before."""

    brand: str
    role: str
    positive: int
    neutral: int
    negative: int
    unscored: int
    net_sentiment: float | None
    previous_net_sentiment: float | None
    previous_positive: int = 0
    previous_negative: int = 0

    @property
    def change(self) -> float | None:
        """Net sentiment minus the week before's; None when either is missing."""
        return _difference(self.net_sentiment, self.previous_net_sentiment)


@dataclass(frozen=True)
class TopMention:
    """One of the week's mentions with the largest potential reach."""

    mention_key: str
    brands: tuple[str, ...]
    platform: str
    url: str | None
    author: str
    title: str | None
    text: str
    mentioned_at: datetime
    reach_estimate: int | None
    sentiment_label: str | None
    story_id: str | None
    publisher: str | None = None


@dataclass(frozen=True)
class TopAuthor:
    """An author of the brands' mentions: `platform:handle`; for web items `platform:` and their byline, else
    their publisher (a Google News item's outlet), else their source."""

    author: str
    platform: str
    mentions: int
    reach: int
    followers: int | None


@dataclass(frozen=True)
class TopSite:
    """A site the brands' mentions were on: its name (publisher, else domain, else source) and its domain."""

    site: str
    mentions: int
    reach: int
    authors: int
    domain: str | None = None


@dataclass(frozen=True)
class WeekStory:
    """The week's biggest story among the brands' mentions (stories-v1).

    Attributes:
        story_id: the story.
        mentions: the brands' mentions of it in the week.
        authors: their distinct authors.
        reach: their summed potential reach.
        headline: the title, else the text, of its mention with the largest reach.
        url: that mention's URL.
        publisher: that mention's publisher, if any.
    """

    story_id: str
    mentions: int
    authors: int
    reach: int
    headline: str
    url: str | None
    publisher: str | None


@dataclass(frozen=True)
class WeekSpike:
    """A spike that started in the week (see `care.spikes`), with its stored explanation.

    Attributes:
        brand: the brand or competitor.
        category: the playbook category, None for all the brand's mentions.
        hour_start: its first spike hour (UTC).
        peak_hour: its busiest hour (UTC).
        mentions: mentions in the busiest hour.
        baseline: the expected mentions in its first hour.
        score: −log10 p of its first hour.
        spike_model: the formula version.
        terms: over-represented words and pairs, most over-represented first.
        authors: (author, mentions), most first.
        sources: (source, mentions), most first.
        examples: its mentions with the largest reach, as stored: `url`, `author`, `text`, `reach_estimate`.
    """

    brand: str
    category: str | None
    hour_start: datetime
    peak_hour: datetime
    mentions: int
    baseline: float
    score: float
    spike_model: str
    terms: tuple[str, ...]
    authors: tuple[tuple[str, int], ...]
    sources: tuple[tuple[str, int], ...]
    examples: tuple[dict, ...]


@dataclass(frozen=True)
class CategoryVolume:
    """A playbook category's mentions in the week and the week before."""

    category: str
    mentions: int
    negative: int
    previous_mentions: int

    @property
    def change(self) -> float | None:
        """Relative change on the week before; None when it had none."""
        return _relative_change(self.mentions, self.previous_mentions)


@dataclass(frozen=True)
class QueueServiceLevel:
    """Triage items a queue opened in the week and how their first responses went.

    Attributes:
        queue: the queue.
        items: items opened in the week.
        escalated: of which escalated.
        responded: of which with a first response (by the time the report was rendered).
        within_sla: first response by the due time.
        breaches: first response after the due time, or none with the due time before the week's end.
        pending: no first response, due after the week's end.
        median_first_response_minutes: median business minutes to the first response.
    """

    queue: str
    items: int
    escalated: int
    responded: int
    within_sla: int
    breaches: int
    pending: int
    median_first_response_minutes: float | None

    @property
    def share_within_sla(self) -> float | None:
        """Within SLA over the items that were due by the week's end (items − pending)."""
        due = self.items - self.pending
        return self.within_sla / due if due else None


@dataclass(frozen=True)
class ServiceBreach:
    """A triage item opened in the week that missed its first-response due time."""

    mention_key: str
    queue: str
    category: str
    brand: str
    priority: float
    escalated: bool
    opened_at: datetime
    due_at: datetime
    first_response_at: datetime | None
    url: str | None
    headline: str | None = None


@dataclass(frozen=True)
class StaffingForecastDay:
    """Agents one queue needs on one local day of the week after the report week."""

    queue: str
    day: date
    forecast_arrivals: float
    peak_agents: int
    agent_hours: int


@dataclass(frozen=True)
class StaffingForecast:
    """The staffing plan for the week after the report week (`care.staffing`).

    Attributes:
        week_label: the planned ISO week.
        weeks_used: per queue, the past weeks its forecast is over (0: no history yet).
        days: per queue and local day, in the playbook's queue order.
        model: the formula version.
    """

    week_label: str
    weeks_used: dict[str, int]
    days: tuple[StaffingForecastDay, ...]
    model: str


@dataclass(frozen=True)
class SourceWeek:
    """A source's runs whose window ended in the week, and its health at the week's end."""

    source: str
    kind: str | None
    runs: int
    failed: int
    empty: int
    items_fetched: int
    mentions_collected: int
    mentions_new: int
    last_status: str | None
    last_error: str | None
    health: str


@dataclass(frozen=True)
class FormulaVersion:
    """A model or formula version behind the week's numbers, and how many rows it scored."""

    column: str
    version: str | None
    rows: int
    applies_to: str


@dataclass(frozen=True)
class WeeklyReport:
    """Everything the weekly mention report shows, for one ISO week; no rendering.

    Attributes:
        week: the week, its bounds and days.
        brands: the configured brands, in order.
        competitors: the configured competitors, in order.
        mentions: distinct earned mentions of any configured brand or competitor in the week.
        previous_mentions: the same for the week before.
        volume, share_of_voice, sentiment: one row per brand then competitor, in configuration order.
        top_mentions, top_authors, top_sites: for the brands' mentions.
        spikes: spikes that started in the week, in time order.
        categories: most mentioned first.
        playbook_configured: False when the config has no playbook (no triage, no staffing).
        service_levels: per queue, in the playbook's queue order plus any other queue with items.
        breaches: the first `LISTED_BREACHES` breaches by due time; `breach_count` counts them all.
        staffing: the next week's plan, None without a playbook.
        sources: the configured sources, then any other source with runs in the week.
        formula_versions: model and formula versions of the week's rows.
        sentiment_checks: the model against people's corrections made before the week's end
            (warehouse.sentiment_accuracy; None: none yet).
        themes: the week's largest themes of each brand then competitor (`reports.week_themes`).
        coverage: how much of the week and the week before each configured source was collected.
        volume_in_both: per brand, (mentions this week, the week before) from the sources collected in both
            weeks (`reports.coverage`): what the summary compares when a source was collected one week only.
        biggest_story: the story with the most of the brands' mentions (at least two), or None.
        listening: per configured source, what it was asked and spent, and what it left out (`reports.listening`).
    """

    week: ReportWeek
    brands: tuple[str, ...]
    competitors: tuple[str, ...]
    mentions: int
    previous_mentions: int
    volume: tuple[BrandVolume, ...]
    share_of_voice: tuple[VoiceShare, ...]
    sentiment: tuple[SentimentSplit, ...]
    top_mentions: tuple[TopMention, ...]
    top_authors: tuple[TopAuthor, ...]
    top_sites: tuple[TopSite, ...]
    spikes: tuple[WeekSpike, ...]
    categories: tuple[CategoryVolume, ...]
    playbook_configured: bool
    service_levels: tuple[QueueServiceLevel, ...]
    breaches: tuple[ServiceBreach, ...]
    breach_count: int
    staffing: StaffingForecast | None
    sources: tuple[SourceWeek, ...]
    formula_versions: tuple[FormulaVersion, ...]
    sentiment_checks: GroupAccuracy | None = None
    themes: tuple[WeekTheme, ...] = ()
    coverage: WeekCoverage = WeekCoverage(())
    biggest_story: WeekStory | None = None
    volume_in_both: dict[str, tuple[int, int]] = field(default_factory=dict)
    listening: tuple[SourceListening, ...] = ()


def weekly_report_data(connection: duckdb.DuckDBPyConnection, config: Config, week: str) -> WeeklyReport:
    """All the numbers of the weekly mention report for one ISO week.

    Args:
        connection: the warehouse (read-only is fine).
        config: the configuration: its time zone, brands, competitors, sources and playbook.
        week: the ISO week, e.g. "2026-W45", in `config.timezone`.

    Returns:
        The report's numbers.

    Raises:
        ValueError: `week` is not an ISO week.
    """
    the_week = report_week(week, config.timezone)
    with WeekMentions(connection, the_week, [brand.name for brand in config.all_brands]) as staged:
        return collect_weekly_report(staged, config)


def collect_weekly_report(staged: WeekMentions, config: Config) -> WeeklyReport:
    """The report's numbers from the staged week (for callers that also write the CSV from it).

    Args:
        staged: the week's mentions, inside its `with` block.
        config: the configuration the week was staged for.
    """
    connection, week = staged.connection, staged.week
    brands = [(brand.name, "brand") for brand in config.brands]
    brands += [(brand.name, "competitor") for brand in config.competitors]
    [(mentions, previous_mentions)] = connection.execute(
        f"SELECT count(*) FILTER (WHERE this_week), count(*) FILTER (WHERE NOT this_week) FROM {staged.mentions}"
    ).fetchall()
    volume, share_of_voice, sentiment = _brand_figures(staged, brands)
    playbook = config.playbook
    service_levels, breaches, breach_count = _service_levels(connection, week, playbook)
    spikes = _spikes(connection, week, [name for name, _ in brands])
    coverage = week_coverage(connection, week, [source.name for source in config.sources])
    return WeeklyReport(
        week=week,
        brands=tuple(brand.name for brand in config.brands),
        competitors=tuple(brand.name for brand in config.competitors),
        mentions=mentions,
        previous_mentions=previous_mentions,
        volume=volume,
        share_of_voice=share_of_voice,
        sentiment=sentiment,
        top_mentions=_top_mentions(staged),
        top_authors=_top_authors(staged),
        top_sites=_top_sites(staged),
        spikes=spikes,
        categories=_categories(staged),
        playbook_configured=playbook is not None,
        service_levels=service_levels,
        breaches=breaches,
        breach_count=breach_count,
        staffing=_staffing(connection, week, playbook),
        sources=_sources(connection, week, [source.name for source in config.sources]),
        formula_versions=_formula_versions(staged, spikes, len(playbook.queues) if playbook else 0),
        sentiment_checks=sentiment_agreement(connection, until=week.end),
        themes=week_themes(staged, [name for name, _ in brands]),
        coverage=coverage,
        biggest_story=_biggest_story(staged),
        volume_in_both=_volume_from(staged, [source.source for source in coverage.in_both], [name for name, _ in brands]),
        listening=week_listening(connection, week, coverage),
    )


class _BrandWeek(NamedTuple):
    """A brand's figures for one of the two weeks, as the formula macros give them."""

    mentions: int
    reach: int
    unique_authors: int
    share_by_volume: float | None
    share_by_reach: float | None
    share_by_unique_authors: float | None
    positive: int
    neutral: int
    negative: int
    unscored: int
    net_sentiment: float | None


def _brand_figures(
    staged: WeekMentions, brands: list[tuple[str, str]]
) -> tuple[tuple[BrandVolume, ...], tuple[VoiceShare, ...], tuple[SentimentSplit, ...]]:
    """Volume, share of voice and net sentiment of each brand, in configuration order, from the formula macros."""
    week = staged.week
    monday, previous_monday = week.days[0], week.days[0] - timedelta(weeks=1)
    names = [name for name, _ in brands]
    weekly = staged.connection.execute(
        f"""
        WITH week_volume AS (
            SELECT * FROM brand_volume_of('{staged.brands}', 'week', $time_zone)
            UNION ALL BY NAME  -- every brand in both weeks: 0 without mentions, and no share when no brand had any
            SELECT brand, day, 0 AS mentions, 0 AS unique_authors, 0 AS reach, 0 AS positive, 0 AS neutral,
                   0 AS negative
            FROM (SELECT unnest($brands) AS brand) CROSS JOIN (SELECT unnest([$previous_monday, $monday]) AS day)
        ),
        week_sentiment AS (
            SELECT day, brand, sum(positive) AS positive, sum(neutral) AS neutral, sum(negative) AS negative
            FROM week_volume GROUP BY day, brand
        )
        SELECT s.brand, s.day = $monday, s.mentions, s.reach, s.unique_authors,
               s.share_by_volume, s.share_by_reach, s.share_by_unique_authors,
               t.positive, t.neutral, t.negative, s.mentions - t.positive - t.neutral - t.negative,
               net_sentiment_of(t.positive, t.negative)
        FROM share_of_voice_of('week_volume') AS s JOIN week_sentiment AS t USING (day, brand)
        """,
        {"time_zone": week.timezone, "brands": names, "monday": monday, "previous_monday": previous_monday},
    ).fetchall()
    figures = {(brand, this_week): _BrandWeek(*values) for brand, this_week, *values in weekly}
    daily = dict.fromkeys(((brand, day) for brand in names for day in week.days), 0)
    daily |= {
        (brand, day): int(mentions)
        for brand, day, mentions in staged.connection.execute(
            f"""
            SELECT brand, day, sum(mentions) FROM brand_volume_of('{staged.brands}', 'day', $time_zone)
            WHERE day >= $monday GROUP BY ALL
            """,
            {"time_zone": week.timezone, "monday": monday},
        ).fetchall()
    }
    volume, share_of_voice, sentiment = [], [], []
    for brand, role in brands:
        now, before = figures[brand, True], figures[brand, False]
        volume.append(BrandVolume(brand, role, tuple(daily[brand, day] for day in week.days), now.mentions,
                                  before.mentions))
        share_of_voice.append(VoiceShare(
            brand, role, now.mentions, now.reach, now.unique_authors,
            now.share_by_volume, now.share_by_reach, now.share_by_unique_authors,
            before.share_by_volume, before.share_by_reach, before.share_by_unique_authors,
        ))
        sentiment.append(SentimentSplit(brand, role, now.positive, now.neutral, now.negative, now.unscored,
                                        now.net_sentiment, before.net_sentiment, before.positive, before.negative))
    return tuple(volume), tuple(share_of_voice), tuple(sentiment)


def _top_mentions(staged: WeekMentions) -> tuple[TopMention, ...]:
    rows = staged.connection.execute(
        f"""
        WITH top AS (
            SELECT * FROM {staged.mentions}
            WHERE this_week AND mention_key IN (SELECT mention_key FROM {staged.brands} WHERE role = 'brand')
            ORDER BY reach_estimate DESC NULLS LAST, mentioned_at DESC, mention_key
            LIMIT {TOP_MENTIONS}
        )
        SELECT t.mention_key,
               (SELECT list(b.brand ORDER BY b.brand) FROM {staged.brands} AS b WHERE b.mention_key = t.mention_key),
               t.platform, t.url, t.byline, t.title, t.text, t.mentioned_at, t.reach_estimate,
               t.sentiment_label,
               t.story_id, t.publisher
        FROM top AS t
        ORDER BY t.reach_estimate DESC NULLS LAST, t.mentioned_at DESC, t.mention_key
        """
    ).fetchall()
    return tuple(
        TopMention(key, tuple(brands), platform, url, author, title, text, _utc(at), reach, label, story, publisher)
        for key, brands, platform, url, author, title, text, at, reach, label, story, publisher in rows
    )


def _top_authors(staged: WeekMentions) -> tuple[TopAuthor, ...]:
    rows = staged.connection.execute(
        f"""
        SELECT byline AS author, platform, count(*) AS mentions, coalesce(sum(reach_estimate), 0) AS reach, max(author_followers)
        FROM {staged.mentions}
        WHERE this_week AND mention_key IN (SELECT mention_key FROM {staged.brands} WHERE role = 'brand')
        GROUP BY ALL ORDER BY mentions DESC, reach DESC, author LIMIT {TOP_AUTHORS}
        """
    ).fetchall()
    return tuple(TopAuthor(*row) for row in rows)


def _top_sites(staged: WeekMentions) -> tuple[TopSite, ...]:
    rows = staged.connection.execute(
        f"""
        WITH hosted AS (
            SELECT *, coalesce(lower(regexp_extract(coalesce(publisher_url, url), '{_SITE_PATTERN}', 1)), '') AS host
            FROM {staged.mentions}
            WHERE this_week AND mention_key IN (SELECT mention_key FROM {staged.brands} WHERE role = 'brand')
        ),
        named AS (SELECT *, CASE WHEN {_LOCAL_HOST} THEN NULL ELSE host END AS domain FROM hosted)
        SELECT coalesce(publisher, domain, source) AS site, count(*) AS mentions,
               coalesce(sum(reach_estimate), 0) AS reach, count(DISTINCT author), domain
        FROM named
        GROUP BY ALL ORDER BY mentions DESC, reach DESC, site, domain NULLS LAST LIMIT {TOP_SITES}
        """
    ).fetchall()
    return tuple(TopSite(*row) for row in rows)


def _volume_from(staged: WeekMentions, sources: list[str], brands: list[str]) -> dict[str, tuple[int, int]]:
    """Each brand's mentions this week and the week before from the given sources only."""
    counts = dict.fromkeys(brands, (0, 0)) | {
        brand: (now, before)
        for brand, now, before in staged.connection.execute(
            f"""
            SELECT b.brand, count(*) FILTER (WHERE b.this_week), count(*) FILTER (WHERE NOT b.this_week)
            FROM {staged.brands} AS b JOIN {staged.mentions} AS m USING (mention_key)
            WHERE list_contains($sources::VARCHAR[], m.source) GROUP BY b.brand
            """,
            {"sources": sources},
        ).fetchall()
    }
    return counts


def _biggest_story(staged: WeekMentions) -> WeekStory | None:
    rows = staged.connection.execute(
        f"""
        WITH told AS (
            SELECT * FROM {staged.mentions}
            WHERE this_week AND story_id IS NOT NULL
              AND mention_key IN (SELECT mention_key FROM {staged.brands} WHERE role = 'brand')
        ),
        biggest AS (
            SELECT story_id, count(*) AS mentions, count(DISTINCT author) AS authors,
                   coalesce(sum(reach_estimate), 0) AS reach
            FROM told GROUP BY story_id HAVING count(*) >= 2
            ORDER BY mentions DESC, reach DESC, story_id LIMIT 1
        )
        SELECT b.story_id, b.mentions, b.authors, b.reach, coalesce(nullif(t.title, ''), t.text), t.url, t.publisher
        FROM biggest AS b JOIN told AS t USING (story_id)
        ORDER BY t.reach_estimate DESC NULLS LAST, t.mentioned_at DESC, t.mention_key LIMIT 1
        """
    ).fetchall()
    return WeekStory(*rows[0]) if rows else None


def _spikes(connection: duckdb.DuckDBPyConnection, week: ReportWeek, brands: list[str]) -> tuple[WeekSpike, ...]:
    rows = connection.execute(
        """
        SELECT brand, category, hour_start, peak_hour, mentions, baseline, score, spike_model, explanation
        FROM spikes WHERE hour_start >= ? AND hour_start < ? AND list_contains(?, brand)
        ORDER BY hour_start, brand, category
        """,
        [week.start, week.end, brands],
    ).fetchall()
    spikes = []
    for brand, category, hour_start, peak_hour, mentions, baseline, score, model, explanation in rows:
        why = json.loads(explanation) if explanation else {}
        spikes.append(WeekSpike(
            brand=brand, category=category or None, hour_start=_utc(hour_start), peak_hour=_utc(peak_hour),
            mentions=mentions, baseline=baseline, score=score, spike_model=model,
            terms=tuple(term["term"] for term in why.get("terms", [])),
            authors=tuple((author["name"], author["mentions"]) for author in why.get("authors", [])),
            sources=tuple((source["name"], source["mentions"]) for source in why.get("sources", [])),
            examples=tuple(why.get("examples", [])),
        ))
    return tuple(spikes)


def _categories(staged: WeekMentions) -> tuple[CategoryVolume, ...]:
    rows = staged.connection.execute(
        f"""
        SELECT category, count(*) FILTER (WHERE this_week) AS mentions,
               count(*) FILTER (WHERE this_week AND sentiment_label = 'negative'),
               count(*) FILTER (WHERE NOT this_week)
        FROM {staged.categories} GROUP BY category ORDER BY mentions DESC, category
        """
    ).fetchall()
    return tuple(CategoryVolume(*row) for row in rows)


def _service_levels(
    connection: duckdb.DuckDBPyConnection, week: ReportWeek, playbook: Playbook | None
) -> tuple[tuple[QueueServiceLevel, ...], tuple[ServiceBreach, ...], int]:
    if playbook is None:
        return (), (), 0
    bounds = {"start": week.start, "end": week.end}
    rows = connection.execute(
        """
        SELECT queue, count(*), count(*) FILTER (WHERE escalated), count(first_response_at),
               count(*) FILTER (WHERE first_response_at <= due_at),
               count(*) FILTER (WHERE first_response_at > due_at OR (first_response_at IS NULL AND due_at < $end)),
               count(*) FILTER (WHERE first_response_at IS NULL AND due_at >= $end),
               median(first_response_minutes)
        FROM triage_items WHERE opened_at >= $start AND opened_at < $end GROUP BY queue
        """,
        bounds,
    ).fetchall()
    by_queue = {row[0]: QueueServiceLevel(*row) for row in rows}
    order = [queue.name for queue in playbook.queues]
    order += sorted(set(by_queue) - set(order))
    levels = tuple(by_queue.get(queue, QueueServiceLevel(queue, 0, 0, 0, 0, 0, 0, None)) for queue in order)
    breach_rows = connection.execute(
        f"""
        SELECT mention_key, queue, category, brand, priority, escalated, opened_at, due_at, first_response_at
        FROM triage_items
        WHERE opened_at >= $start AND opened_at < $end
          AND (first_response_at > due_at OR (first_response_at IS NULL AND due_at < $end))
        ORDER BY due_at, mention_key LIMIT {LISTED_BREACHES}
        """,
        bounds,
    ).fetchall()
    # Looked up by key (DuckDB answers from the primary-key index), not joined: a join would scan every mention.
    found = {
        key: (url, headline) for key, url, headline in connection.execute(
            "SELECT mention_key, url, left(coalesce(nullif(title, ''), text), 120) FROM mentions "
            "WHERE mention_key = ANY(?::VARCHAR[])",
            [[row[0] for row in breach_rows]],
        ).fetchall()
    }
    breaches = tuple(
        ServiceBreach(key, queue, category, brand, priority, escalated, _utc(opened), _utc(due),
                      _utc(responded) if responded else None, *found.get(key, (None, None)))
        for key, queue, category, brand, priority, escalated, opened, due, responded in breach_rows
    )
    return levels, breaches, sum(level.breaches for level in levels)


def _staffing(
    connection: duckdb.DuckDBPyConnection, week: ReportWeek, playbook: Playbook | None
) -> StaffingForecast | None:
    if playbook is None:
        return None
    plan = staffing_plan(connection, week.next_monday, queues=queue_staffing(playbook), timezone=week.timezone)
    return StaffingForecast(
        week_label=iso_week_label(week.next_monday),
        weeks_used=dict(plan.weeks_used),
        days=tuple(
            StaffingForecastDay(day.queue, day.day, day.forecast_arrivals, day.peak_agents, day.agent_hours)
            for day in daily_staffing(plan)
        ),
        model=plan.model,
    )


def _sources(connection: duckdb.DuckDBPyConnection, week: ReportWeek, configured: list[str]) -> tuple[SourceWeek, ...]:
    rows = connection.execute(
        """
        SELECT source, kind, runs, failed_runs, empty_runs, items_fetched, mentions_collected, mentions_new,
               last_status, last_error, health
        FROM source_health_between($start, $end)
        """,
        {"start": week.start, "end": week.end},
    ).fetchall()
    by_source = {row[0]: SourceWeek(*row) for row in rows}
    order = configured + sorted(set(by_source) - set(configured))
    return tuple(
        by_source.get(source, SourceWeek(source, None, 0, 0, 0, 0, 0, 0, None, None, "no runs")) for source in order
    )


def _formula_versions(
    staged: WeekMentions, spikes: tuple[WeekSpike, ...], planned_queues: int
) -> tuple[FormulaVersion, ...]:
    connection, week = staged.connection, staged.week
    versions = [
        FormulaVersion(column, version, rows, "mentions")
        for column, version, rows in connection.execute(
            " UNION ALL ".join(
                f"SELECT '{column}' AS formula, {column} AS version, count(*) AS rows FROM {staged.mentions} "
                f"WHERE this_week GROUP BY ALL"
                for column in ("sentiment_model", "lang_model", "reach_model", "story_model")
            ) + " ORDER BY formula, rows DESC, version"
        ).fetchall()
    ]
    versions += [
        FormulaVersion("priority_model", version, rows, "triage items")
        for version, rows in connection.execute(
            "SELECT priority_model, count(*) FROM triage_items WHERE opened_at >= ? AND opened_at < ? GROUP BY ALL "
            "ORDER BY 2 DESC, 1",
            [week.start, week.end],
        ).fetchall()
    ]
    spike_models = Counter(spike.spike_model for spike in spikes)
    versions += [FormulaVersion("spike_model", version, rows, "spikes") for version, rows in spike_models.most_common()]
    if planned_queues:
        versions.append(FormulaVersion("staffing_model", STAFFING_MODEL, planned_queues, "queues planned"))
    return tuple(versions)


def _relative_change(now: int, before: int) -> float | None:
    return (now - before) / before if before else None


def _difference(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else now - before


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
