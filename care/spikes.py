"""Spikes: hours in which a brand (or a brand's category) is mentioned far more than usual, and why.

spikes-v1, written out for analysts in docs/data-dictionary.md.

Volume. Earned mentions (`earned_mentions`: not owned, not deleted) per brand and UTC hour, counted at
the hour of `published_at`, or of `first_seen_at` when the source gave none or only its day
(`published_precision = 'day'`: such items would otherwise pile into hour 00); per brand and category too, through
`mention_categories`. A series starts at the first hour its brand (or brand and category) was ever
mentioned; from there an hour without mentions counts 0.

Baseline. The counts at the same hour of the week in the `baseline_weeks` weeks before hour h (default 4)
are its history x_1..x_n. "Same hour of the week" is the same weekday and clock time in `timezone`
(default UTC), so with a local zone a 09:00 Monday is compared with 09:00 Mondays across a
daylight-saving change. Weeks before the series started are left out, not taken as 0 (n is then
smaller); an hour with no such week is not tested. Each week is capped at `min_ratio` times their
median, so one earlier spike in the same hour does not hide the next, and the expected count is
    expected(h) = max(min_baseline, mean(min(x_i, min_ratio * median(x))))   (min_baseline default 0.5)

Test. Hour h with count c is a spike hour when all three hold:
    c >= min_volume                      (default 10: a handful of posts is never a spike)
    c >= min_ratio * expected(h)         (default 2: at least twice the usual volume)
    p = P(X >= c) < alpha                (default 0.0001)
where X is the count of an hour whose Poisson rate is known only from n weeks averaging expected(h):
the negative binomial X ~ NegBin(r = n * expected(h) + 1/2, q = n / (n + 1)), i.e.
P(X = k) = Gamma(k + r) / (Gamma(r) k!) * q^r * (1 - q)^k (the Poisson rate given the n weeks is
Gamma(n * expected + 1/2, n) under Jeffreys' prior). Its mean is expected(h) + 1/(2n) and its variance
(n + 1)/n times that: a Poisson test that knows the baseline is itself an estimate from a few weeks,
so that alpha means what it says (at the same alpha, a Poisson test against the baseline as if it
were exact raised three times as many false alarms in the back-test). The ratio guards the busy
series: real volumes vary more from week to week than Poisson counts, and at 500 mentions an hour
the p-value alone flags a 20% rise (600: p = 0.00006). The p-value guards the quiet ones: 10 mentions
against an expected 2 is 5 times the usual and, from four weeks of history, still happens by chance
once in 1,500 hours (p = 0.00068). `score` is -log10 p (4 means 1 in 10,000). The defaults were tuned
on the back-test in bench/spike_backtest.py.

Spikes. Spike hours less than or equal to `cooldown_hours` (default 6) apart are one spike: it starts
at its first spike hour (`hour_start`, with that hour's `mentions`, `baseline` and `score`), peaks at
its busiest one (`peak_hour`, `peak_mentions`) and lasts until its last one (`last_hour`). A key has no
new spike until `cooldown_hours` have passed without a spike hour, so a crisis that runs for a day is
one spike, not twenty-four.

Explanation (`explain_spike`), over the spike's hours `hour_start` to `last_hour`:
- terms: words and word pairs (hashtags and @handles are words; URLs, numbers, one-letter words and
  English stop words are dropped, pairs that start or end with a stop word too) ranked by Dunning's
  log-likelihood G2 of the share of spike mentions using them against the share of mentions in the
  `baseline_weeks` weeks before the spike; only terms in at least 2 spike mentions and used more than
  before. The brand's own name is kept: it is in most mentions of both periods, so it rarely ranks;
- authors (`platform:handle`, the source for web items) and sources, by mentions;
- example posts: the spike's mentions with the largest `reach_estimate`.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

# The moment an item counts at, by the hour: its publish time, unless the source stated only the day.
MENTIONED_HOUR = (
    "CASE WHEN m.published_precision = 'day' THEN m.first_seen_at ELSE coalesce(m.published_at, m.first_seen_at) END"
)

SPIKE_MODEL = "spikes-v1"
MIN_TERM_MENTIONS = 2
SNIPPET_CHARS = 280

SpikeKey = tuple[str, str | None]  # (brand, category); category None: all the brand's mentions

_HOUR = timedelta(hours=1)
_LOG_10 = math.log(10)
_TAIL_PRECISION = 1e-17
# Words, hashtags and @handles: a letter or digit, then letters, digits, _, apostrophes and hyphens.
_TOKEN_PATTERN = r"[#@]?[\p{L}\p{N}][\p{L}\p{N}_'’-]*"
_URL_PATTERN = r"(https?://|www\.)\S+"
_STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further get gets got had hadn't has hasn't have haven't having he he'd he'll
    he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it
    it's its itself just let's me more most much mustn't my myself no nor not now of off on once only or
    other ought our ours ourselves out over own really same shan't she she'd she'll she's should shouldn't
    so some such than that that's the their theirs them themselves then there there's these they they'd
    they'll they're they've this those through to too under until up us very via was wasn't we we'd we'll
    we're we've were weren't what what's when when's where where's which while who who's whom why why's
    will with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
    amp gt lt rt http https www com im dont cant ive youre
    """.split()
)


@dataclass(frozen=True)
class SpikeSettings:
    """How spikes are found (see the module docstring for the formulas).

    Attributes:
        baseline_weeks: weeks of the same hour of the week whose median is the expected count.
        min_volume: fewest mentions in an hour for it to be a spike hour.
        min_ratio: fewest times the expected count.
        alpha: largest Poisson p-value of a spike hour.
        min_baseline: floor of the expected count, in mentions per hour.
        cooldown_hours: spike hours at most this many hours apart are one spike.
    """

    baseline_weeks: int = 4
    min_volume: int = 10
    min_ratio: float = 2.0
    alpha: float = 0.0001
    min_baseline: float = 0.5
    cooldown_hours: int = 6

    def __post_init__(self) -> None:
        if self.baseline_weeks < 1 or self.cooldown_hours < 1 or self.min_volume < 1:
            raise ValueError("spikes: baseline_weeks, cooldown_hours and min_volume must be at least 1")
        if not 0 < self.alpha < 1:
            raise ValueError(f"spikes: alpha must be between 0 and 1, not {self.alpha}")
        if self.min_ratio < 1 or self.min_baseline <= 0:
            raise ValueError("spikes: min_ratio must be at least 1 and min_baseline above 0")


DEFAULT_SPIKE_SETTINGS = SpikeSettings()


@dataclass(frozen=True)
class Spike:
    """A run of spike hours of one brand, or one brand's category.

    Attributes:
        brand: the brand.
        category: the category, or None for all the brand's mentions.
        hour_start: the first spike hour (UTC hour start): what identifies the spike.
        mentions: earned mentions in that hour.
        baseline: the expected count for that hour.
        score: -log10 of that hour's Poisson p-value.
        peak_hour: the spike hour with the most mentions (the first of equals).
        peak_mentions: its mentions.
        last_hour: the last spike hour so far.
        spike_hours: how many hours from hour_start to last_hour were spike hours.
        spike_model: the formula's version.
    """

    brand: str
    category: str | None
    hour_start: datetime
    mentions: int
    baseline: float
    score: float
    peak_hour: datetime
    peak_mentions: int
    last_hour: datetime
    spike_hours: int
    spike_model: str = SPIKE_MODEL


@dataclass(frozen=True)
class SpikeTerm:
    """A word or word pair used more in a spike than before it.

    Attributes:
        term: the word or pair, lower-cased.
        mentions: spike mentions using it.
        baseline_mentions: mentions in the baseline weeks before the spike using it.
        keyness: Dunning's G2 of the two shares (larger: more surely over-represented).
    """

    term: str
    mentions: int
    baseline_mentions: int
    keyness: float


@dataclass(frozen=True)
class SpikeContributor:
    """An author (`platform:handle`) or a source, and its mentions in the spike."""

    name: str
    mentions: int


@dataclass(frozen=True)
class SpikeExample:
    """One of a spike's mentions, for a reader to open.

    Attributes:
        mention_key: the mention.
        url: where it is.
        author: `platform:handle`, or `platform:source` for web items.
        published_at: when it was published (first seen, if the platform does not say), UTC.
        reach_estimate: its potential reach.
        text: its text, whitespace collapsed, cut at SNIPPET_CHARS characters.
    """

    mention_key: str
    url: str | None
    author: str
    published_at: datetime
    reach_estimate: int | None
    text: str


@dataclass(frozen=True)
class SpikeExplanation:
    """What a spike's mentions say and who says it.

    Attributes:
        mentions: earned mentions in the spike's hours.
        baseline_mentions: earned mentions in the baseline weeks before it.
        terms: over-represented words and pairs, most over-represented first.
        authors: the most frequent authors.
        sources: the most frequent sources.
        examples: the mentions with the largest reach.
    """

    mentions: int
    baseline_mentions: int
    terms: tuple[SpikeTerm, ...]
    authors: tuple[SpikeContributor, ...]
    sources: tuple[SpikeContributor, ...]
    examples: tuple[SpikeExample, ...]

    def as_json(self) -> str:
        """The explanation as a JSON object (times as ISO 8601 strings), for a JSON column."""
        return json.dumps(asdict(self), default=datetime.isoformat, ensure_ascii=False)


def spike_score(count: int, expected: float, weeks: int) -> float:
    """-log10 P(X >= count) when X is an hour's count at a rate known only from `weeks` weeks averaging
    `expected`: X ~ NegBin(r = weeks * expected + 1/2, q = weeks / (weeks + 1)). Exact in log space.

    Args:
        count: the observed count.
        expected: the baseline mean, above 0.
        weeks: how many weeks it is the mean of, at least 1.

    Returns:
        The score: 0 when count is 0, larger the less likely the count.
    """
    if count <= 0:
        return 0.0
    r, q = weeks * expected + 0.5, weeks / (weeks + 1)
    log_pmf = math.lgamma(count + r) - math.lgamma(r) - math.lgamma(count + 1)
    log_pmf += r * math.log(q) + count * math.log1p(-q)
    total, term = 1.0, 1.0
    if count > r * (1 - q) / q:
        # P(X >= c) = pmf(c) * (1 + sum of pmf(k+1)/pmf(c)), pmf(k+1)/pmf(k) = (k+r)(1-q)/(k+1) < 1 above the mean.
        k = count
        while term > _TAIL_PRECISION * total:
            term *= (k + r) * (1 - q) / (k + 1)
            total += term
            k += 1
        return max(0.0, -(log_pmf + math.log(total)) / _LOG_10)
    # At or below the mean: 1 - P(X <= c-1), the lower tail summed down from c-1.
    k = count - 1
    term = count / ((k + r) * (1 - q))  # pmf(c-1) / pmf(c)
    total = term
    while k > 0 and term > _TAIL_PRECISION * total:
        term *= k / ((k - 1 + r) * (1 - q))
        total += term
        k -= 1
    return max(0.0, -math.log10(max(1.0 - math.exp(log_pmf) * total, 1e-300)))


def detect_spikes(
    counts: Mapping[datetime, int] | Iterable[tuple[datetime, int]],
    *,
    brand: str,
    category: str | None = None,
    settings: SpikeSettings = DEFAULT_SPIKE_SETTINGS,
    timezone: str = "UTC",
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Spike]:
    """The spikes of one hourly series.

    Args:
        counts: mentions per hour, keyed by timezone-aware hour starts; the series starts at its
            earliest hour, and an hour missing after that counts 0.
        brand: the brand the series counts.
        category: its category, or None for all the brand's mentions.
        settings: the test's thresholds.
        timezone: the IANA zone whose weekday and clock time define "the same hour of the week".
        start: the first hour tested (default: the series' first); earlier hours only serve as
            baseline. Spike hours up to `cooldown_hours` before it are not seen, so a spike reported
            within that many hours of `start` may have begun earlier.
        end: the hour after the last one tested (default: after the series' last hour).

    Returns:
        The spikes whose hours were tested, in time order.
    """
    series = counts if isinstance(counts, Mapping) else dict(counts)
    if not series:
        return []
    series_start = min(series)
    hour = series_start if start is None else max(series_start, start)
    stop = max(series) + _HOUR if end is None else end
    zone = None if timezone == "UTC" else ZoneInfo(timezone)
    spikes: list[Spike] = []
    current: Spike | None = None
    while hour < stop:
        count = series.get(hour, 0)
        tested = None
        if count >= settings.min_volume:
            tested = _spike_hour(series, hour, count, series_start, settings, zone)
        if tested is not None:
            expected, score = tested
            if current is not None and hour - current.last_hour <= timedelta(hours=settings.cooldown_hours):
                current = replace(current, last_hour=hour, spike_hours=current.spike_hours + 1)
                if count > current.peak_mentions:
                    current = replace(current, peak_hour=hour, peak_mentions=count)
            else:
                if current is not None:
                    spikes.append(current)
                current = Spike(brand, category, hour, count, round(expected, 3), round(score, 3), hour, count, hour, 1)
        hour += _HOUR
    if current is not None:
        spikes.append(current)
    return spikes


def recent_spikes(
    volumes: Mapping[SpikeKey, Mapping[datetime, int]],
    *,
    until: datetime,
    settings: SpikeSettings = DEFAULT_SPIKE_SETTINGS,
    timezone: str = "UTC",
    lookback_hours: int = 24,
) -> list[Spike]:
    """The spikes that started in the `lookback_hours` hours before `until`, over many series.

    The hours from `cooldown_hours` before that window are tested too, so a spike that began earlier
    and is still going is not reported again: the answer is the same as testing the whole history.

    Args:
        volumes: hourly series by (brand, category), as `hourly_volume` returns them; they must reach
            back `baseline_weeks` weeks before the window, and `cooldown_hours` more.
        until: the end of the window (exclusive), a UTC hour start.
        settings: the test's thresholds.
        timezone: the IANA zone of "the same hour of the week".
        lookback_hours: the window's length.

    Returns:
        The spikes by brand, category (None first) and start.
    """
    window_start = until - timedelta(hours=lookback_hours)
    tested_from = window_start - timedelta(hours=settings.cooldown_hours)
    found = [
        spike
        for (brand, category), series in volumes.items()
        for spike in detect_spikes(
            series, brand=brand, category=category, settings=settings, timezone=timezone, start=tested_from, end=until
        )
        if spike.hour_start >= window_start
    ]
    return sorted(found, key=lambda spike: (*_key_order((spike.brand, spike.category)), spike.hour_start))


def hourly_volume(
    connection: duckdb.DuckDBPyConnection, start: datetime, end: datetime, *, by_category: bool = False
) -> dict[SpikeKey, dict[datetime, int]]:
    """Earned mentions per brand (and per brand and category) and UTC hour, gaps filled with 0.

    A key's series begins at `start`, or at the first hour the key was ever mentioned if that is later
    (history before it is unknown, not zero), and ends before `end`. A key mentioned before `start`
    but not since has a series of zeros.

    Args:
        connection: the warehouse (reads `earned_mentions`, `mention_brands`, and with by_category
            `mention_categories`).
        start: the first hour, a timezone-aware hour start.
        end: the hour after the last, a timezone-aware hour start.
        by_category: add a series per (brand, category) beside each brand's (brand, None).

    Returns:
        {(brand, category): {hour start (UTC): mentions}}, every hour of each series present.
    """
    for moment in (start, end):
        if moment.tzinfo is None or moment.minute or moment.second or moment.microsecond:
            raise ValueError(f"hourly_volume: {moment!r} is not a timezone-aware hour start")
    keyed = [
        f"""SELECT b.brand, NULL::VARCHAR AS category, {MENTIONED_HOUR} AS mentioned_at
           FROM earned_mentions AS m JOIN mention_brands AS b USING (mention_key)"""
    ]
    if by_category:
        keyed.append(
            f"""SELECT b.brand, c.category, {MENTIONED_HOUR} AS mentioned_at
               FROM earned_mentions AS m JOIN mention_brands AS b USING (mention_key)
               JOIN mention_categories AS c USING (mention_key)"""
        )
    keyed_sql = " UNION ALL ".join(keyed)
    first_hour = {
        (brand, category): first.replace(tzinfo=UTC)
        for brand, category, first in connection.execute(
            f"""SELECT brand, category, date_trunc('hour', timezone('UTC', min(mentioned_at)))
                FROM ({keyed_sql}) WHERE mentioned_at < $end GROUP BY ALL""",
            {"end": end},
        ).fetchall()
    }
    hourly: dict[SpikeKey, dict[datetime, int]] = {key: {} for key in first_hour}
    for brand, category, hour, mentions in connection.execute(
        f"""SELECT brand, category, date_trunc('hour', timezone('UTC', mentioned_at)), count(*)
            FROM ({keyed_sql}) WHERE mentioned_at >= $start AND mentioned_at < $end GROUP BY ALL""",
        {"start": start, "end": end},
    ).fetchall():
        hourly[(brand, category)][hour.replace(tzinfo=UTC)] = mentions
    window_start, window_end = start.astimezone(UTC), end.astimezone(UTC)
    volumes: dict[SpikeKey, dict[datetime, int]] = {}
    for key in sorted(hourly, key=_key_order):
        hour = max(window_start, first_hour[key])
        series: dict[datetime, int] = {}
        while hour < window_end:
            series[hour] = hourly[key].get(hour, 0)
            hour += _HOUR
        volumes[key] = series
    return volumes


def explain_spike(
    connection: duckdb.DuckDBPyConnection, spike: Spike, *, top: int = 5, baseline_weeks: int = 4
) -> SpikeExplanation:
    """The terms, authors, sources and example posts of a spike's mentions.

    Args:
        connection: the warehouse (reads `earned_mentions`, `mention_brands`, and for a category
            spike `mention_categories`).
        spike: the spike; its hours are `hour_start` to `last_hour`.
        top: how many of each to return.
        baseline_weeks: the weeks before the spike that terms are compared with.

    Returns:
        The explanation (see the module docstring for how terms are ranked).
    """
    spike_end = spike.last_hour + _HOUR
    parameters = {
        "brand": spike.brand,
        "category": spike.category,
        "baseline_start": spike.hour_start - timedelta(weeks=baseline_weeks),
        "spike_start": spike.hour_start,
        "spike_end": spike_end,
    }
    category_join = "JOIN mention_categories AS c ON c.mention_key = m.mention_key AND c.category = $category"
    connection.execute(
        f"""CREATE OR REPLACE TEMP TABLE spike_mentions AS
            SELECT m.mention_key, m.url, m.text, m.title, m.platform, m.source, m.reach_estimate,
                m.platform || ':' || coalesce(m.author_handle, m.source) AS author,
                {MENTIONED_HOUR} >= $spike_start AS in_spike,
                timezone('UTC', {MENTIONED_HOUR}) AS published_utc
            FROM earned_mentions AS m JOIN mention_brands AS b ON b.mention_key = m.mention_key AND b.brand = $brand
            {category_join if spike.category is not None else ""}
            WHERE {MENTIONED_HOUR} >= $baseline_start
              AND {MENTIONED_HOUR} < $spike_end""",
        parameters if spike.category is not None else {k: v for k, v in parameters.items() if k != "category"},
    )
    try:
        [(spike_count, baseline_count)] = connection.execute(
            "SELECT count(*) FILTER (WHERE in_spike), count(*) FILTER (WHERE NOT in_spike) FROM spike_mentions"
        ).fetchall()
        authors, sources = (
            tuple(
                SpikeContributor(name, mentions)
                for name, mentions in connection.execute(
                    f"""SELECT {column}, count(*) AS mentions FROM spike_mentions WHERE in_spike
                        GROUP BY ALL ORDER BY mentions DESC, {column} LIMIT $top""",
                    {"top": top},
                ).fetchall()
            )
            for column in ("author", "source")
        )
        examples = tuple(
            SpikeExample(key, url, author, published.replace(tzinfo=UTC), reach, " ".join(text.split())[:SNIPPET_CHARS])
            for key, url, author, published, reach, text in connection.execute(
                """SELECT mention_key, url, author, published_utc, reach_estimate, text FROM spike_mentions
                   WHERE in_spike ORDER BY reach_estimate DESC NULLS LAST, mention_key LIMIT $top""",
                {"top": top},
            ).fetchall()
        )
        terms = _over_represented_terms(connection, spike_count, baseline_count, top)
    finally:
        connection.execute("DROP TABLE IF EXISTS spike_mentions")
    return SpikeExplanation(spike_count, baseline_count, terms, authors, sources, examples)


def find_spikes(
    connection: duckdb.DuckDBPyConnection,
    *,
    until: datetime,
    settings: SpikeSettings = DEFAULT_SPIKE_SETTINGS,
    timezone: str = "UTC",
    lookback_hours: int = 24,
    by_category: bool = True,
    top: int = 5,
) -> list[tuple[Spike, SpikeExplanation]]:
    """The spikes that started in the `lookback_hours` before `until`, each with its explanation.

    Args:
        connection: the warehouse.
        until: the end of the window, e.g. the end of the run's data interval; an hour not yet over
            (when `until` is not an hour start) is not tested.
        settings: the test's thresholds.
        timezone: the IANA zone of "the same hour of the week".
        lookback_hours: the window's length.
        by_category: look for spikes per brand and category too.
        top: how many terms, authors, sources and examples each explanation has.

    Returns:
        (spike, explanation) by brand, category (None first) and start.
    """
    until = until.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    # A week back in local clock time can be up to an hour more in UTC: a day of margin is plenty.
    history = timedelta(weeks=settings.baseline_weeks, days=1, hours=lookback_hours + settings.cooldown_hours)
    volumes = hourly_volume(connection, until - history, until, by_category=by_category)
    spikes = recent_spikes(volumes, until=until, settings=settings, timezone=timezone, lookback_hours=lookback_hours)
    return [
        (spike, explain_spike(connection, spike, top=top, baseline_weeks=settings.baseline_weeks)) for spike in spikes
    ]


def _spike_hour(
    series: Mapping[datetime, int],
    hour: datetime,
    count: int,
    series_start: datetime,
    settings: SpikeSettings,
    zone: ZoneInfo | None,
) -> tuple[float, float] | None:
    """(expected, score) when the hour passes the ratio and p-value tests, else None."""
    history = []
    for weeks in range(1, settings.baseline_weeks + 1):
        if zone is None:
            earlier = hour - timedelta(weeks=weeks)
        else:
            # Aware arithmetic is wall-clock arithmetic: same weekday and clock time, then back to UTC.
            earlier = (hour.astimezone(zone) - timedelta(weeks=weeks)).astimezone(UTC)
        if earlier < series_start:
            break
        history.append(series.get(earlier, 0))
    if not history:
        return None
    cap = settings.min_ratio * statistics.median(history)
    expected = max(settings.min_baseline, sum(min(week, cap) for week in history) / len(history))
    if count < settings.min_ratio * expected:
        return None
    score = spike_score(count, expected, len(history))
    return (expected, score) if score > -math.log10(settings.alpha) else None


def _over_represented_terms(
    connection: duckdb.DuckDBPyConnection, spike_count: int, baseline_count: int, top: int
) -> tuple[SpikeTerm, ...]:
    """The words and pairs of `spike_mentions` most over-represented in the spike (Dunning's G2)."""
    rows = connection.execute(
        f"""WITH words AS (
                SELECT mention_key, in_spike, unnest(words) AS word, generate_subscripts(words, 1) AS position
                FROM (SELECT mention_key, in_spike, regexp_extract_all(
                        lower(regexp_replace(coalesce(title || ' ', '') || text, '{_URL_PATTERN}', ' ', 'g')),
                        '{_TOKEN_PATTERN.replace("'", "''")}') AS words
                      FROM spike_mentions)
            ),
            pairs AS (
                SELECT mention_key, in_spike, word,
                    word || ' ' || lead(word) OVER (PARTITION BY mention_key ORDER BY position) AS pair,
                    lead(word) OVER (PARTITION BY mention_key ORDER BY position) AS next_word
                FROM words
            ),
            terms AS (
                SELECT mention_key, in_spike, word AS term FROM pairs WHERE NOT list_contains($stop, word)
                UNION
                SELECT mention_key, in_spike, pair FROM pairs
                WHERE pair IS NOT NULL AND NOT list_contains($stop, word) AND NOT list_contains($stop, next_word)
            )
            SELECT term, count(*) FILTER (WHERE in_spike) AS spike_mentions,
                count(*) FILTER (WHERE NOT in_spike) AS baseline_mentions
            FROM terms
            WHERE length(regexp_replace(term, '[#@]', '', 'g')) > 1 AND regexp_matches(term, '\\p{{L}}')
            GROUP BY term HAVING count(*) FILTER (WHERE in_spike) >= {MIN_TERM_MENTIONS}""",
        {"stop": sorted(_STOP_WORDS)},
    ).fetchall()
    ranked = []
    for term, in_spike, in_baseline in rows:
        if baseline_count == 0 or in_spike / spike_count > in_baseline / baseline_count:
            keyness = _log_likelihood(in_spike, spike_count, in_baseline, baseline_count)
            ranked.append(SpikeTerm(term, in_spike, in_baseline, round(keyness, 3)))
    ranked.sort(key=lambda found: (-found.keyness, -found.mentions, found.term))
    return tuple(ranked[:top])


def _key_order(key: SpikeKey) -> tuple[str, bool, str]:
    """Brands in name order, each brand's own series before its categories."""
    brand, category = key
    return brand, category is not None, category or ""


def _log_likelihood(hits_a: int, total_a: int, hits_b: int, total_b: int) -> float:
    """Dunning's G2 for a term in hits_a of total_a documents against hits_b of total_b."""
    share = (hits_a + hits_b) / (total_a + total_b)
    g2 = 0.0
    for hits, total in ((hits_a, total_a), (hits_b, total_b)):
        for observed, expected in ((hits, total * share), (total - hits, total * (1 - share))):
            if observed > 0:
                g2 += observed * math.log(observed / expected)
    return 2 * g2
