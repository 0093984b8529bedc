-- Connector health per source, and how many mentions each run marked deleted.

ALTER TABLE runs ADD COLUMN mentions_deleted INTEGER NOT NULL DEFAULT 0;

-- One row per source: its latest outcome and its recent streaks. A "zero run" is a run whose
-- status is empty: the source answered and had nothing at all (HTTP 304 Not Modified is ok).
CREATE VIEW source_health AS
WITH ordered AS (
    SELECT *, row_number() OVER (PARTITION BY source ORDER BY window_end DESC, run_id DESC) AS recency
    FROM runs
),
streaks AS (
    SELECT
        source,
        count(*) AS runs,
        coalesce(min(recency) FILTER (WHERE status <> 'failed'), count(*) + 1) - 1 AS consecutive_failures,
        coalesce(min(recency) FILTER (WHERE status <> 'empty'), count(*) + 1) - 1 AS consecutive_zero_runs,
        bool_or(mentions_collected > 0) AS has_produced,
        max(window_end) FILTER (WHERE mentions_matched > 0) AS last_matched_at
    FROM ordered
    GROUP BY source
)
SELECT
    latest.source,
    latest.kind,
    latest.status AS last_status,
    latest.error AS last_error,
    latest.window_end AS last_run_at,
    streaks.runs,
    streaks.consecutive_failures,
    streaks.consecutive_zero_runs,
    streaks.has_produced,
    streaks.last_matched_at,
    CASE
        WHEN latest.status = 'skipped' THEN 'skipped'
        WHEN latest.status = 'failed' AND streaks.has_produced THEN 'broken'
        WHEN latest.status = 'failed' THEN 'failing'
        WHEN streaks.consecutive_zero_runs >= 3 AND streaks.has_produced THEN 'silent'
        ELSE 'healthy'
    END AS health
FROM ordered AS latest JOIN streaks USING (source)
WHERE latest.recency = 1;
