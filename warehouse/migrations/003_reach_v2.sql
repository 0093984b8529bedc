-- reach-v2: the estimated actual reach band beside the potential, and reach per brand and day
-- that counts each author's audience once.

ALTER TABLE mentions ADD COLUMN reach_low BIGINT;
ALTER TABLE mentions ADD COLUMN reach_high BIGINT;

-- Rebuilt so that it carries the new columns (a view's * is fixed when it is created).
CREATE OR REPLACE VIEW earned_mentions AS
SELECT * FROM mentions WHERE NOT is_owned AND NOT is_deleted;

-- Per brand and UTC day: earned mentions, distinct authors, and reach counting each author once
-- (their largest reach that day). Web items count their source as the author.
CREATE VIEW daily_unique_author_reach AS
WITH per_author AS (
    SELECT
        b.brand,
        CAST(timezone('UTC', coalesce(m.published_at, m.first_seen_at)) AS DATE) AS day,
        m.platform || ':' || coalesce(m.author_handle, m.source) AS author,
        max(m.reach_estimate) AS author_reach,
        max(m.reach_low) AS author_reach_low,
        max(m.reach_high) AS author_reach_high,
        count(*) AS mentions
    FROM earned_mentions AS m JOIN mention_brands AS b USING (mention_key)
    GROUP BY ALL
)
SELECT
    brand,
    day,
    sum(mentions) AS mentions,
    count(*) AS unique_authors,
    sum(author_reach) AS unique_author_reach,
    sum(author_reach_low) AS unique_author_reach_low,
    sum(author_reach_high) AS unique_author_reach_high
FROM per_author
GROUP BY brand, day;
