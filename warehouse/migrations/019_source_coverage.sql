-- Issue 14. Coverage: how much of a period each source was collected, from its runs. A run covers its
-- data interval [window_start, window_end) when it succeeded (status ok or empty: it asked the source
-- and got an answer, even an empty one); failed and skipped runs cover nothing. Overlapping and
-- repeated windows count once. The weekly report states each source's collected hours out of the
-- week's hours, says "not collected" of a week without any, and compares weeks per collected hour.

CREATE MACRO source_coverage_between(start_ts, end_ts) AS TABLE
WITH clipped AS (
    SELECT source, greatest(window_start, start_ts) AS covered_from, least(window_end, end_ts) AS covered_to
    FROM runs
    WHERE status IN ('ok', 'empty') AND window_end > start_ts AND window_start < end_ts
      AND window_end > window_start
),
ordered AS (
    SELECT *,
        max(covered_to) OVER (PARTITION BY source ORDER BY covered_from, covered_to
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached_before
    FROM clipped
),
islands AS (
    SELECT *,
        sum(CASE WHEN reached_before IS NULL OR covered_from > reached_before THEN 1 ELSE 0 END)
            OVER (PARTITION BY source ORDER BY covered_from, covered_to ROWS UNBOUNDED PRECEDING) AS island
    FROM ordered
),
spans AS (
    SELECT source, island, min(covered_from) AS covered_from, max(covered_to) AS covered_to
    FROM islands GROUP BY source, island
)
SELECT
    source,
    sum(epoch(covered_to) - epoch(covered_from)) / 3600.0 AS collected_hours,
    (epoch(end_ts) - epoch(start_ts)) / 3600.0 AS period_hours,
    count(*) AS collected_spans,
    min(covered_from) AS first_collected_at,
    max(covered_to) AS last_collected_at
FROM spans
GROUP BY source;

COMMENT ON MACRO TABLE source_coverage_between IS 'How much of [start_ts, end_ts) each source was collected: the union of the data intervals [window_start, window_end) of its successful runs (status ok or empty) within the period, in hours (collected_hours), against the period''s hours (period_hours; 167 or 169 in a local week with a clock change), in collected_spans separate stretches from first_collected_at to last_collected_at. A source with no successful run in the period has no row: not collected. Failed and skipped runs cover nothing. Example: SELECT * FROM source_coverage_between(TIMESTAMPTZ ''2026-10-19 00:00+01'', TIMESTAMPTZ ''2026-10-26 00:00+00'').';
