-- Issue 16, items 4 and 5. The coverage and cost ledger: per source and run, what was asked, what answered,
-- the platform allowance spent and left, items seen against matched, the share of the run's data interval
-- covered and an estimated cost where the platform charges (`source_coverage`); and source health's new
-- state, `not matching`: a source that keeps answering with its usual volume but matches nothing.
--
-- The ledger's columns of `runs` are NULL on every row recorded before this migration ("not recorded"):
-- asked and left_out are then NULL rather than empty lists, and the run's data interval is read as its
-- window. A run recorded since has asked and left_out lists (empty: nothing to name, a skipped source),
-- and quota columns only when its platform meters it (SourceRun.quota).

ALTER TABLE runs ADD COLUMN interval_start TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN interval_end TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN asked VARCHAR[];
ALTER TABLE runs ADD COLUMN left_out VARCHAR[];
ALTER TABLE runs ADD COLUMN quota_unit VARCHAR;
ALTER TABLE runs ADD COLUMN quota_used BIGINT;
ALTER TABLE runs ADD COLUMN quota_limit BIGINT;
ALTER TABLE runs ADD COLUMN quota_left BIGINT;
ALTER TABLE runs ADD COLUMN quota_period VARCHAR;
ALTER TABLE runs ADD COLUMN price_per_unit DECIMAL(18, 6);
ALTER TABLE runs ADD COLUMN price_currency VARCHAR;

CREATE VIEW source_coverage AS
SELECT
    run_id,
    source,
    kind,
    coalesce(interval_start, window_start) AS interval_start,
    coalesce(interval_end, window_end) AS interval_end,
    window_start,
    window_end,
    asked,
    status,
    error,
    status IN ('ok', 'empty') AS answered,
    items_fetched AS items_seen,
    mentions_matched,
    round(mentions_matched / nullif(items_fetched, 0), 4) AS matched_share,
    CASE WHEN status IN ('ok', 'empty') THEN round(greatest(
        epoch(least(window_end, coalesce(interval_end, window_end)))
            - epoch(greatest(window_start, coalesce(interval_start, window_start))), 0
    ) / nullif(epoch(coalesce(interval_end, window_end)) - epoch(coalesce(interval_start, window_start)), 0), 4)
    ELSE 0 END AS window_share,
    quota_unit,
    quota_used,
    quota_limit,
    quota_left,
    quota_period,
    price_per_unit,
    price_currency,
    CAST(quota_used * price_per_unit AS DECIMAL(18, 6)) AS estimated_cost,
    left_out
FROM runs;

COMMENT ON VIEW source_coverage IS 'The coverage and cost ledger: one row per run and source, saying what the source was asked, what answered, what it spent of its platform''s allowance and what that cost, how many items it saw against how many named a brand, how much of the run''s data interval it covered, and what it left out and why. The run summary prints a line of it per source; the weekly report''s section "What we listened to this week, and what we could not" adds up the runs whose window overlaps the week. Runs recorded before migration 021 have NULL asked, left_out and quota. Example: SELECT source, status, items_seen, mentions_matched, window_share, quota_used, estimated_cost, price_currency FROM source_coverage ORDER BY interval_end DESC, source LIMIT 20.';
COMMENT ON COLUMN source_coverage.run_id IS 'the Airflow run id';
COMMENT ON COLUMN source_coverage.source IS 'the configured source name';
COMMENT ON COLUMN source_coverage.kind IS 'its kind';
COMMENT ON COLUMN source_coverage.interval_start IS 'start of the run''s data interval (before migration 021: of the window the source searched)';
COMMENT ON COLUMN source_coverage.interval_end IS 'end of the run''s data interval';
COMMENT ON COLUMN source_coverage.window_start IS 'start of the window the source searched (earlier than the interval on a first run''s backfill)';
COMMENT ON COLUMN source_coverage.window_end IS 'end of the window the source searched';
COMMENT ON COLUMN source_coverage.asked IS 'what the source was asked, one line each: "search: ...", "r/...", a feed URL without its secrets, "app 123 (gb)"; empty when it asked nothing (skipped); NULL before migration 021';
COMMENT ON COLUMN source_coverage.status IS 'what answered: ok, empty (a valid answer with no items), failed or skipped';
COMMENT ON COLUMN source_coverage.error IS 'why it failed or was skipped, and what to do';
COMMENT ON COLUMN source_coverage.answered IS 'the source answered (status ok or empty)';
COMMENT ON COLUMN source_coverage.items_seen IS 'items the source returned (runs.items_fetched), before matching';
COMMENT ON COLUMN source_coverage.mentions_matched IS 'of its distinct items, the ones that named a brand or competitor';
COMMENT ON COLUMN source_coverage.matched_share IS 'mentions_matched / items_seen; NULL when it saw nothing';
COMMENT ON COLUMN source_coverage.window_share IS 'the part of the run''s data interval the source covered: the overlap of the window it searched with the interval, over the interval, when it answered; 0 when it failed or was skipped';
COMMENT ON COLUMN source_coverage.quota_unit IS 'what the platform meters, in its words ("posts read": X bills per post read; "pages read": a blog''s max_pages_per_run); NULL when nothing is metered';
COMMENT ON COLUMN source_coverage.quota_used IS 'how many of quota_unit the run spent';
COMMENT ON COLUMN source_coverage.quota_limit IS 'the allowance for quota_period, when configured (X: monthly_read_budget); NULL: no limit set';
COMMENT ON COLUMN source_coverage.quota_left IS 'what was left of quota_limit after the run';
COMMENT ON COLUMN source_coverage.quota_period IS 'what the allowance is for: month (X), run (a blog''s pages), day';
COMMENT ON COLUMN source_coverage.price_per_unit IS 'the configured price of one quota_unit when the run was collected (X: price_per_post_read); NULL: no price configured';
COMMENT ON COLUMN source_coverage.price_currency IS 'the price''s currency, ISO 4217 (price_currency in the config)';
COMMENT ON COLUMN source_coverage.estimated_cost IS 'quota_used × price_per_unit, in price_currency; NULL without a price';
COMMENT ON COLUMN source_coverage.left_out IS 'what the source did not ask or read this run and why, one line each ("r/private: 403 forbidden", "12 pages past max_pages_per_run"); NULL before migration 021';

-- Source health learns `not matching`: the latest runs in a row answered with items (status ok) at a normal
-- volume but matched no brand, after the source matched before. A normal volume is at least
-- half the median items seen by its runs that matched something (its usual traffic while it was working).
-- A quieter run that matched nothing (an unchanged feed's 304, a slow hour) neither counts nor breaks the
-- streak; a run that matched, failed, was skipped or answered empty ends it. The source is flagged after 3
-- such runs (as 3 empty runs flag a silent one) once its usual match rate (matched over items seen, up to
-- its last run that matched) says the streak's items should have held at least 4.6 matches: a source that
-- still matched as it used to would then match none less than 1% of the time (Poisson: e^-4.6 < 0.01). So a
-- search, whose items all name a brand, is flagged after 3 runs, and a general feed where the brand is rare
-- only when enough of its items went by. Kinds are never listed: every source is judged on its own runs.

CREATE OR REPLACE MACRO source_health_between(start_ts, end_ts) AS TABLE
WITH ordered AS (
    SELECT *, row_number() OVER (PARTITION BY source ORDER BY window_end DESC, run_id DESC) AS recency
    FROM runs
    WHERE window_end > start_ts AND window_end <= end_ts
),
usual AS (
    SELECT source,
        median(items_fetched) FILTER (WHERE mentions_matched > 0) AS usual_items_seen,
        sum(mentions_matched) FILTER (WHERE window_end <= last_match)
            / nullif(sum(items_fetched) FILTER (WHERE window_end <= last_match), 0) AS usual_match_rate
    FROM ordered JOIN (
        SELECT source, max(window_end) AS last_match FROM ordered WHERE mentions_matched > 0 GROUP BY source
    ) USING (source)
    GROUP BY source
),
judged AS (
    SELECT ordered.*,
        row_number() OVER (PARTITION BY source ORDER BY recency) AS judged_recency,
        coalesce(status = 'ok' AND mentions_matched = 0 AND items_fetched >= 0.5 * usual.usual_items_seen, false) AS unmatched
    FROM ordered LEFT JOIN usual USING (source)
    WHERE NOT (status = 'ok' AND mentions_matched = 0
               AND items_fetched < 0.5 * coalesce(usual.usual_items_seen, items_fetched + 1))
),
unmatched_counts AS (
    SELECT source,
        coalesce(min(judged_recency) FILTER (WHERE NOT unmatched), count(*) + 1) - 1 AS consecutive_unmatched_runs
    FROM judged GROUP BY source
),
unmatched_streaks AS (
    SELECT source, consecutive_unmatched_runs,
        round(any_value(usual.usual_match_rate) * coalesce(sum(items_fetched) FILTER (
            WHERE judged_recency <= consecutive_unmatched_runs), 0), 1) AS expected_matches
    FROM judged JOIN unmatched_counts USING (source) LEFT JOIN usual USING (source)
    GROUP BY source, consecutive_unmatched_runs
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
    coalesce(unmatched_streaks.consecutive_unmatched_runs, 0) AS consecutive_unmatched_runs,
    unmatched_streaks.expected_matches,
    usual.usual_items_seen,
    produced.has_produced,
    streaks.last_matched_at,
    CASE
        WHEN latest.status = 'skipped' THEN 'skipped'
        WHEN latest.status = 'failed' AND produced.has_produced THEN 'broken'
        WHEN latest.status = 'failed' THEN 'failing'
        WHEN streaks.consecutive_zero_runs >= 3 AND produced.has_produced THEN 'silent'
        WHEN unmatched_streaks.consecutive_unmatched_runs >= 3 AND unmatched_streaks.expected_matches >= 4.6
            THEN 'not matching'
        ELSE 'healthy'
    END AS health
FROM ordered AS latest JOIN streaks USING (source) JOIN produced USING (source)
    LEFT JOIN unmatched_streaks USING (source) LEFT JOIN usual USING (source)
WHERE latest.recency = 1;

CREATE OR REPLACE VIEW source_health AS
SELECT
    source, kind, last_status, last_error, last_run_at, runs, consecutive_failures, consecutive_zero_runs,
    consecutive_unmatched_runs, expected_matches, usual_items_seen, has_produced, last_matched_at, health
FROM source_health_between(TIMESTAMPTZ '-infinity', TIMESTAMPTZ 'infinity');

COMMENT ON MACRO TABLE source_health_between IS 'Source health as of end_ts, for each source with runs whose window ended in (start_ts, end_ts]: the source_health columns, plus failed_runs, empty_runs, items_fetched, mentions_collected and mentions_new over those runs. health is skipped (latest run skipped), broken (latest run failed, and a run up to end_ts collected something), failing (failed, never produced), silent (produced, then 3 or more empty runs in a row to the latest), not matching (3 or more runs in a row to the latest answered with at least half its usual items seen, the median of its runs that matched, and matched nothing, and its usual match rate expected at least 4.6 matches among their items: less than a 1% chance of none; quieter unmatched runs are passed over) or healthy. The source_health view is this over all runs.';

COMMENT ON VIEW source_health IS 'One row per source: its latest outcome and recent streaks, so a connector that breaks silently is seen. A zero run is a run with status empty (an HTTP 304 Not Modified is ok, not empty). The run summary lists broken, silent and not matching sources under Connector health.';
COMMENT ON COLUMN source_health.source IS 'the configured source name';
COMMENT ON COLUMN source_health.kind IS 'its kind';
COMMENT ON COLUMN source_health.last_status IS 'status of its latest run';
COMMENT ON COLUMN source_health.last_error IS 'error of its latest run';
COMMENT ON COLUMN source_health.last_run_at IS 'window end of its latest run';
COMMENT ON COLUMN source_health.runs IS 'runs recorded for it';
COMMENT ON COLUMN source_health.consecutive_failures IS 'latest runs in a row that failed';
COMMENT ON COLUMN source_health.consecutive_zero_runs IS 'latest runs in a row that were empty';
COMMENT ON COLUMN source_health.consecutive_unmatched_runs IS 'latest runs in a row that answered with at least half its usual items seen and matched no brand (quieter unmatched runs passed over)';
COMMENT ON COLUMN source_health.expected_matches IS 'the matches its usual match rate (matched / items seen up to its last run that matched) expects among the items of those unmatched runs; not matching needs at least 4.6 (none would then happen by chance less than 1% of the time)';
COMMENT ON COLUMN source_health.usual_items_seen IS 'the median items seen by its runs that matched a brand; NULL when none has';
COMMENT ON COLUMN source_health.has_produced IS 'it has collected something at least once';
COMMENT ON COLUMN source_health.last_matched_at IS 'window end of its latest run that matched a brand';
COMMENT ON COLUMN source_health.health IS 'skipped (latest run skipped, e.g. no credentials), broken (it used to produce and its latest run failed), failing (failed and never produced), silent (produced before, then 3 or more empty runs in a row), not matching (3 or more runs in a row with its usual volume of items, enough of them to expect at least 4.6 matches, and no brand matched: the brand''s terms changed, the feed changed topic, or the query is too narrow), healthy';
