-- Issue 14. Themes: each week's earned mentions of a brand grouped by what they are about (themes-v1,
-- enrich/themes.py), counted, and compared with the week before (warehouse/themes.py fills both tables,
-- a week at a time, after each run's stories and from `overheard themes`).
--
-- A week is an ISO week in the configured time zone (as the weekly report's). Recomputing a week
-- replaces its rows. Natural keys: themes (week, brand, rank) = theme_id; mention_themes (mention_key, brand).

CREATE TABLE themes (
    theme_id           VARCHAR NOT NULL,
    week               VARCHAR NOT NULL,
    week_start         TIMESTAMPTZ NOT NULL,
    week_end           TIMESTAMPTZ NOT NULL,
    brand              VARCHAR NOT NULL,
    role               VARCHAR NOT NULL,
    rank               INTEGER NOT NULL,
    label              VARCHAR NOT NULL,
    phrases            VARCHAR[] NOT NULL,
    phrase_weights     DOUBLE[] NOT NULL,
    example_keys       VARCHAR[] NOT NULL,
    mentions           BIGINT NOT NULL,
    brand_mentions     BIGINT NOT NULL,
    unique_authors     BIGINT NOT NULL,
    reach              BIGINT NOT NULL,
    positive           BIGINT NOT NULL,
    neutral            BIGINT NOT NULL,
    negative           BIGINT NOT NULL,
    unscored           BIGINT NOT NULL,
    previous_theme_id  VARCHAR,
    previous_mentions  BIGINT NOT NULL,
    first_week         VARCHAR NOT NULL,
    status             VARCHAR NOT NULL,
    themes_model       VARCHAR NOT NULL
);

CREATE TABLE mention_themes (
    mention_key  VARCHAR NOT NULL,
    brand        VARCHAR NOT NULL,
    week         VARCHAR NOT NULL,
    theme_id     VARCHAR NOT NULL,
    similarity   DOUBLE NOT NULL
);

CREATE VIEW weekly_themes AS
WITH examples AS (
    SELECT t.theme_id, list(coalesce(m.title || ': ', '') || coalesce(m.text, '') ORDER BY e.position) AS examples
    FROM themes AS t, unnest(t.example_keys) WITH ORDINALITY AS e(mention_key, position)
    JOIN mentions AS m ON m.mention_key = e.mention_key AND NOT m.is_deleted
    GROUP BY t.theme_id
)
SELECT
    t.week, t.week_start, t.brand, t.role, t.rank, t.label, t.phrases, t.mentions, t.brand_mentions,
    round(t.mentions / nullif(t.brand_mentions, 0), 4) AS share_of_brand,
    t.unique_authors, t.reach, t.positive, t.neutral, t.negative, t.unscored,
    round(net_sentiment_of(t.positive, t.negative), 4) AS net_sentiment,
    t.previous_mentions, t.status, t.first_week, coalesce(x.examples, []) AS examples,
    t.theme_id, t.previous_theme_id, t.themes_model
FROM themes AS t LEFT JOIN examples AS x USING (theme_id);

COMMENT ON VIEW weekly_themes IS 'What each brand''s earned mentions were about, week by week (ISO weeks in the configured time zone): themes (themes-v1: clusters of mentions about the same thing, e.g. an outage in one city, a price rise, a new product), labelled with their characteristic phrases, counted by volume, reach and sentiment, and compared with the week before. Largest first (rank). A mention is in at most one theme per brand (mention_themes); most weeks many mentions are in none. Example: SELECT brand, label, mentions, previous_mentions, status FROM weekly_themes WHERE week = (SELECT max(week) FROM weekly_themes) ORDER BY brand, rank.';
COMMENT ON COLUMN weekly_themes.week IS 'ISO week, e.g. 2026-W45, in the configured time zone';
COMMENT ON COLUMN weekly_themes.week_start IS 'its local Monday 00:00, as an instant';
COMMENT ON COLUMN weekly_themes.brand IS 'brand or competitor';
COMMENT ON COLUMN weekly_themes.role IS 'brand or competitor';
COMMENT ON COLUMN weekly_themes.rank IS '1 for the brand''s largest theme that week, then 2, ...';
COMMENT ON COLUMN weekly_themes.label IS 'its three most characteristic phrases, joined by " · "';
COMMENT ON COLUMN weekly_themes.phrases IS 'up to 12 characteristic words and word pairs, most distinctive first (class-based TF-IDF against the brand''s other mentions that week)';
COMMENT ON COLUMN weekly_themes.mentions IS 'earned mentions of the brand in the theme that week';
COMMENT ON COLUMN weekly_themes.brand_mentions IS 'earned mentions of the brand that week, in a theme or not';
COMMENT ON COLUMN weekly_themes.share_of_brand IS 'mentions / brand_mentions';
COMMENT ON COLUMN weekly_themes.unique_authors IS 'distinct authors of those mentions';
COMMENT ON COLUMN weekly_themes.reach IS 'sum of their potential reach (reach_estimate)';
COMMENT ON COLUMN weekly_themes.positive IS 'of which labelled positive for the brand (corrections first, as earned_brand_mentions_between), when the theme was computed';
COMMENT ON COLUMN weekly_themes.neutral IS 'of which labelled neutral for the brand';
COMMENT ON COLUMN weekly_themes.negative IS 'of which labelled negative for the brand';
COMMENT ON COLUMN weekly_themes.unscored IS 'of which left unscored';
COMMENT ON COLUMN weekly_themes.net_sentiment IS '(positive - negative) / (positive + negative), net_sentiment_of; NULL without either';
COMMENT ON COLUMN weekly_themes.previous_mentions IS 'mentions of the same theme the week before (the theme of that week whose phrases match: previous_theme_id); 0 when it was not a theme then';
COMMENT ON COLUMN weekly_themes.status IS 'new (no matching theme the week before), growing or shrinking (more or fewer mentions than the week before, beyond chance: a two-sided binomial test of mentions against previous_mentions at p < 0.05), else steady';
COMMENT ON COLUMN weekly_themes.first_week IS 'the first week of an unbroken run of weeks in which the theme was found';
COMMENT ON COLUMN weekly_themes.examples IS 'up to three of its most typical posts (title: text), most typical first; erased or deleted mentions are left out';
COMMENT ON COLUMN weekly_themes.theme_id IS 'week/brand/rank; the key of mention_themes.theme_id';
COMMENT ON COLUMN weekly_themes.previous_theme_id IS 'the matching theme of the week before; NULL when new';
COMMENT ON COLUMN weekly_themes.themes_model IS 'the themes method version, e.g. themes-v1';
