-- stories-v1: each mention's story (retweets, links to one page, near-duplicate texts), the LSH index
-- that finds near-duplicates, and amplification counted on the amplified post.

ALTER TABLE mentions ADD COLUMN story_id VARCHAR;
ALTER TABLE mentions ADD COLUMN story_reason VARCHAR;
ALTER TABLE mentions ADD COLUMN story_via VARCHAR;
ALTER TABLE mentions ADD COLUMN story_similarity DOUBLE;
ALTER TABLE mentions ADD COLUMN story_model VARCHAR;
ALTER TABLE mentions ADD COLUMN amplified_by INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mentions ADD COLUMN amplified_reach BIGINT NOT NULL DEFAULT 0;

CREATE TABLE story_bands (
    band_hash    BIGINT NOT NULL,
    mention_key  VARCHAR NOT NULL
);

-- Rebuilt so that it carries the new columns (a view's * is fixed when it is created).
CREATE OR REPLACE VIEW earned_mentions AS
SELECT * FROM mentions WHERE NOT is_owned AND NOT is_deleted;

CREATE VIEW stories AS
SELECT
    story_id,
    count(*) AS mentions,
    count(*) FILTER (WHERE story_reason = 'retweet') AS amplifiers,
    coalesce(sum(author_followers) FILTER (WHERE story_reason = 'retweet'), 0) AS amplified_reach,
    count(*) FILTER (WHERE story_reason = 'link') AS links,
    count(*) FILTER (WHERE story_reason = 'near_duplicate') AS near_duplicates,
    count(DISTINCT platform || ':' || coalesce(author_handle, source)) AS authors,
    sum(reach_estimate) AS reach_estimate,
    min(published_at) AS first_published_at,
    max(published_at) AS last_published_at,
    bool_or(mention_key = story_id) AS root_collected
FROM mentions
WHERE story_id IS NOT NULL AND NOT is_deleted
GROUP BY story_id;
