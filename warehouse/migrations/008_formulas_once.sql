-- Each formula the analyst views and the weekly report both show, defined once, as DuckDB macros.
--
-- The daily aggregate tables hold brand_volume_of and unique_author_reach_of per UTC day
-- (warehouse/daily_aggregates.py fills them from these macros); the views read those tables through
-- share_of_voice_of and net_sentiment_of; the weekly report (reports/weekly.py) selects the same macros
-- for its ISO week in the configured time zone. Analysts can call them too: docs/views.md lists them
-- under "Formulas", generated from the COMMENT ON text at the end of this file.

CREATE MACRO period_day(moment, period, time_zone) AS
CAST(date_trunc(period, CAST(timezone(time_zone, moment) AS DATE)) AS DATE);

CREATE MACRO earned_mentions_between(start_ts, end_ts) AS TABLE
WITH in_range AS (
    -- Two ranges rather than one on coalesce(...): DuckDB then skips row groups by their min and max.
    SELECT * FROM earned_mentions WHERE published_at >= start_ts AND published_at < end_ts
    UNION ALL
    SELECT * FROM earned_mentions
    WHERE published_at IS NULL AND first_seen_at >= start_ts AND first_seen_at < end_ts
)
SELECT
    *,
    coalesce(published_at, first_seen_at) AS mentioned_at,
    platform || ':' || coalesce(author_handle, source) AS author
FROM in_range;

CREATE MACRO earned_brand_mentions_between(start_ts, end_ts) AS TABLE
SELECT
    m.mention_key, b.brand, b.role, m.platform, m.mentioned_at, m.author,
    m.reach_estimate, m.reach_low, m.reach_high, m.sentiment_label
FROM earned_mentions_between(start_ts, end_ts) AS m JOIN mention_brands AS b USING (mention_key);

CREATE MACRO brand_volume_of(brand_mentions, period, time_zone) AS TABLE
SELECT
    period_day(mentioned_at, period, time_zone) AS day,
    brand,
    any_value(role) AS role,
    platform,
    count(*) AS mentions,
    count(DISTINCT author) AS unique_authors,
    coalesce(sum(reach_estimate), 0) AS reach,
    count(*) FILTER (WHERE sentiment_label = 'positive') AS positive,
    count(*) FILTER (WHERE sentiment_label = 'neutral') AS neutral,
    count(*) FILTER (WHERE sentiment_label = 'negative') AS negative
FROM query_table(brand_mentions)
GROUP BY ALL;

CREATE MACRO unique_author_reach_of(brand_mentions, period, time_zone) AS TABLE
WITH per_author AS (
    SELECT
        period_day(mentioned_at, period, time_zone) AS day,
        brand,
        author,
        max(reach_estimate) AS author_reach,
        max(reach_low) AS author_reach_low,
        max(reach_high) AS author_reach_high,
        count(*) AS mentions
    FROM query_table(brand_mentions)
    GROUP BY ALL
)
SELECT
    day,
    brand,
    sum(mentions) AS mentions,
    count(*) AS unique_authors,
    coalesce(sum(author_reach), 0) AS unique_author_reach,
    coalesce(sum(author_reach_low), 0) AS unique_author_reach_low,
    coalesce(sum(author_reach_high), 0) AS unique_author_reach_high
FROM per_author
GROUP BY day, brand;

CREATE MACRO share_of_voice_of(brand_volume) AS TABLE
WITH per_brand AS (
    SELECT
        day,
        brand,
        any_value(role) AS role,
        CAST(sum(mentions) AS BIGINT) AS mentions,
        CAST(sum(reach) AS BIGINT) AS reach,
        CAST(sum(unique_authors) AS BIGINT) AS unique_authors
    FROM query_table(brand_volume)
    GROUP BY day, brand
)
SELECT
    day, brand, role, mentions, reach, unique_authors,
    mentions / nullif(sum(mentions) OVER same_period, 0) AS share_by_volume,
    reach / nullif(sum(reach) OVER same_period, 0) AS share_by_reach,
    unique_authors / nullif(sum(unique_authors) OVER same_period, 0) AS share_by_unique_authors
FROM per_brand
WINDOW same_period AS (PARTITION BY day);

CREATE MACRO net_sentiment_of(positive, negative) AS (positive - negative) / nullif(positive + negative, 0);

CREATE MACRO source_health_between(start_ts, end_ts) AS TABLE
WITH ordered AS (
    SELECT *, row_number() OVER (PARTITION BY source ORDER BY window_end DESC, run_id DESC) AS recency
    FROM runs
    WHERE window_end > start_ts AND window_end <= end_ts
),
streaks AS (
    SELECT
        source,
        count(*) AS runs,
        count(*) FILTER (WHERE status = 'failed') AS failed_runs,
        count(*) FILTER (WHERE status = 'empty') AS empty_runs,
        sum(items_fetched) AS items_fetched,
        sum(mentions_collected) AS mentions_collected,
        sum(mentions_new) AS mentions_new,
        coalesce(min(recency) FILTER (WHERE status <> 'failed'), count(*) + 1) - 1 AS consecutive_failures,
        coalesce(min(recency) FILTER (WHERE status <> 'empty'), count(*) + 1) - 1 AS consecutive_zero_runs,
        max(window_end) FILTER (WHERE mentions_matched > 0) AS last_matched_at
    FROM ordered
    GROUP BY source
),
produced AS (
    SELECT source, bool_or(mentions_collected > 0) AS has_produced
    FROM runs
    WHERE window_end <= end_ts AND source IN (SELECT source FROM streaks)
    GROUP BY source
)
SELECT
    latest.source,
    latest.kind,
    latest.status AS last_status,
    latest.error AS last_error,
    latest.window_end AS last_run_at,
    streaks.runs,
    streaks.failed_runs,
    streaks.empty_runs,
    streaks.items_fetched,
    streaks.mentions_collected,
    streaks.mentions_new,
    streaks.consecutive_failures,
    streaks.consecutive_zero_runs,
    produced.has_produced,
    streaks.last_matched_at,
    CASE
        WHEN latest.status = 'skipped' THEN 'skipped'
        WHEN latest.status = 'failed' AND produced.has_produced THEN 'broken'
        WHEN latest.status = 'failed' THEN 'failing'
        WHEN streaks.consecutive_zero_runs >= 3 AND produced.has_produced THEN 'silent'
        ELSE 'healthy'
    END AS health
FROM ordered AS latest JOIN streaks USING (source) JOIN produced USING (source)
WHERE latest.recency = 1;

-- The views, over the macros (same names, columns and meaning as before).

CREATE OR REPLACE VIEW share_of_voice AS
SELECT
    day, brand, role, mentions, reach, unique_authors,
    round(share_by_volume, 4) AS share_by_volume,
    round(share_by_reach, 4) AS share_by_reach,
    round(share_by_unique_authors, 4) AS share_by_unique_authors
FROM share_of_voice_of('daily_volume');

CREATE OR REPLACE VIEW net_sentiment AS
WITH per_day AS (
    SELECT day, brand, sum(positive) AS positive, sum(neutral) AS neutral, sum(negative) AS negative
    FROM daily_volume GROUP BY day, brand
), rolling AS (
    SELECT *,
        sum(positive) OVER seven AS positive_7d,
        sum(negative) OVER seven AS negative_7d,
        sum(positive) OVER prior AS positive_prior_7d,
        sum(negative) OVER prior AS negative_prior_7d
    FROM per_day
    WINDOW
        seven AS (PARTITION BY brand ORDER BY day RANGE BETWEEN INTERVAL 6 DAY PRECEDING AND CURRENT ROW),
        prior AS (PARTITION BY brand ORDER BY day RANGE BETWEEN INTERVAL 13 DAY PRECEDING AND INTERVAL 7 DAY PRECEDING)
)
SELECT
    day, brand, positive, neutral, negative,
    round(net_sentiment_of(positive, negative), 4) AS net_sentiment,
    round(net_sentiment_of(positive_7d, negative_7d), 4) AS net_sentiment_7d,
    round(net_sentiment_of(positive_7d, negative_7d) - net_sentiment_of(positive_prior_7d, negative_prior_7d), 4)
        AS trend_7d
FROM rolling;

CREATE OR REPLACE VIEW source_health AS
SELECT
    source, kind, last_status, last_error, last_run_at, runs, consecutive_failures, consecutive_zero_runs,
    has_produced, last_matched_at, health
FROM source_health_between(TIMESTAMPTZ '-infinity', TIMESTAMPTZ 'infinity');

COMMENT ON MACRO period_day IS 'The first day, in time_zone, of the period that moment falls in: period ''day'', or ''week'' (an ISO week, from Monday). The daily views use UTC days; the weekly report uses its configured time zone.';
COMMENT ON MACRO TABLE earned_mentions_between IS 'The mentions every brand figure counts: earned mentions (neither owned nor deleted) whose mentioned_at, coalesce(published_at, first_seen_at), is in [start_ts, end_ts). Every column of earned_mentions, plus mentioned_at and author (platform:handle, or platform:source for web items).';
COMMENT ON MACRO TABLE earned_brand_mentions_between IS 'earned_mentions_between once for each brand or competitor a mention names: mention_key, brand, role, platform, mentioned_at, author, reach_estimate, reach_low, reach_high, sentiment_label. The rows brand_volume_of and unique_author_reach_of aggregate.';
COMMENT ON MACRO TABLE brand_volume_of IS 'Volume per period (its period_day, as day), brand and platform, over the table or CTE named brand_mentions (rows of earned_brand_mentions_between): mentions, unique_authors (distinct authors), reach (sum of potential reach), and the positive, neutral and negative split. A mention of two brands counts once for each. daily_volume is this per UTC day. Example: WITH m AS (SELECT * FROM earned_brand_mentions_between(TIMESTAMPTZ ''2026-10-05'', TIMESTAMPTZ ''2026-11-02'')) SELECT * FROM brand_volume_of(''m'', ''week'', ''Europe/London'').';
COMMENT ON MACRO TABLE unique_author_reach_of IS 'reach-v2 per period (its period_day, as day) and brand, counting each author''s audience once (their largest reach in the period), over brand_mentions as brand_volume_of: mentions, unique_authors, unique_author_reach and its low and high ends. daily_unique_author_reach is this per UTC day.';
COMMENT ON MACRO TABLE share_of_voice_of IS 'Share of voice: each brand''s share of its period''s mentions, potential reach and unique authors among all the brands in the table or CTE named brand_volume (rows shaped as brand_volume_of''s; platforms are summed, and an author belongs to one platform, so unique authors add up). A share is NULL when the period''s total is 0. The share_of_voice view is this over daily_volume, rounded to 4 places.';
COMMENT ON MACRO net_sentiment_of IS 'Net sentiment, (P - N) / (P + N) for P positive and N negative mentions: from -1 (all negative) to 1 (all positive), NULL when P + N = 0.';
COMMENT ON MACRO TABLE source_health_between IS 'Source health as of end_ts, for each source with runs whose window ended in (start_ts, end_ts]: the source_health columns, plus failed_runs, empty_runs, items_fetched, mentions_collected and mentions_new over those runs. health is skipped (latest run skipped), broken (latest run failed, and a run up to end_ts collected something), failing (failed, never produced), silent (produced, then 3 or more empty runs in a row to the latest) or healthy. The source_health view is this over all runs.';

COMMENT ON VIEW share_of_voice IS 'Each brand''s and competitor''s share of the day''s earned mentions among the configured brands and competitors: by volume, by potential reach, and by unique authors. Shares of one day sum to 1.';
COMMENT ON COLUMN share_of_voice.day IS 'UTC day';
COMMENT ON COLUMN share_of_voice.brand IS 'brand or competitor';
COMMENT ON COLUMN share_of_voice.role IS 'brand or competitor';
COMMENT ON COLUMN share_of_voice.mentions IS 'earned mentions';
COMMENT ON COLUMN share_of_voice.reach IS 'sum of potential reach';
COMMENT ON COLUMN share_of_voice.unique_authors IS 'distinct authors';
COMMENT ON COLUMN share_of_voice.share_by_volume IS 'mentions / all brands'' mentions that day';
COMMENT ON COLUMN share_of_voice.share_by_reach IS 'reach / all brands'' reach that day (NULL when that is 0)';
COMMENT ON COLUMN share_of_voice.share_by_unique_authors IS 'unique authors / the sum of all brands'' unique authors that day';

COMMENT ON VIEW net_sentiment IS 'Net sentiment per brand and UTC day, (P - N) / (P + N) over earned mentions labelled positive (P) and negative (N), with its 7-day value and trend. NULL when there is no positive or negative mention.';
COMMENT ON COLUMN net_sentiment.day IS 'UTC day';
COMMENT ON COLUMN net_sentiment.brand IS 'brand or competitor';
COMMENT ON COLUMN net_sentiment.positive IS 'mentions labelled positive';
COMMENT ON COLUMN net_sentiment.neutral IS 'mentions labelled neutral';
COMMENT ON COLUMN net_sentiment.negative IS 'mentions labelled negative';
COMMENT ON COLUMN net_sentiment.net_sentiment IS '(P - N) / (P + N) that day, from -1 (all negative) to 1 (all positive)';
COMMENT ON COLUMN net_sentiment.net_sentiment_7d IS 'the same over the 7 days ending that day';
COMMENT ON COLUMN net_sentiment.trend_7d IS 'net_sentiment_7d minus the 7 days before it: above 0 is improving';

COMMENT ON VIEW source_health IS 'One row per source: its latest outcome and recent streaks, so a connector that breaks silently is seen. A zero run is a run with status empty (an HTTP 304 Not Modified is ok, not empty). The run summary lists broken and silent sources under Connector health.';
COMMENT ON COLUMN source_health.source IS 'the configured source name';
COMMENT ON COLUMN source_health.kind IS 'its kind';
COMMENT ON COLUMN source_health.last_status IS 'status of its latest run';
COMMENT ON COLUMN source_health.last_error IS 'error of its latest run';
COMMENT ON COLUMN source_health.last_run_at IS 'window end of its latest run';
COMMENT ON COLUMN source_health.runs IS 'runs recorded for it';
COMMENT ON COLUMN source_health.consecutive_failures IS 'latest runs in a row that failed';
COMMENT ON COLUMN source_health.consecutive_zero_runs IS 'latest runs in a row that were empty';
COMMENT ON COLUMN source_health.has_produced IS 'it has collected something at least once';
COMMENT ON COLUMN source_health.last_matched_at IS 'window end of its latest run that matched a brand';
COMMENT ON COLUMN source_health.health IS 'skipped (latest run skipped, e.g. no credentials), broken (it used to produce and its latest run failed), failing (failed and never produced), silent (produced before, then 3 or more empty runs in a row), healthy';
