-- Issue 13. Sentiment per brand, sentiment people corrected, and mentions left unscored.
--
-- The label a view or the report counts for a mention and brand is, in order: a person's correction of
-- that brand in that mention, a person's correction of the mention as a whole, the model's label for that
-- brand (enrich/ scores each brand of a mention that names several), the model's label for the mention.
-- A mention the model did not score (a language it was not trained for) keeps a NULL label and says why
-- in sentiment_reason; the views count it as unscored, never as neutral.

-- The model's label and score for this brand in this mention (NULL: the mention names one brand, whose
-- label is the mention's).
ALTER TABLE mention_brands ADD COLUMN sentiment_label VARCHAR;
ALTER TABLE mention_brands ADD COLUMN sentiment_score DOUBLE;

-- Why the mention has the sentiment it has: which backend `auto` chose and why, or why it is unscored.
ALTER TABLE mentions ADD COLUMN sentiment_reason VARCHAR;

-- Every correction anybody made, kept (the latest per mention and brand wins); the audit trail records
-- who made it and when as well.
CREATE TABLE sentiment_corrections (
    mention_key    VARCHAR NOT NULL,
    brand          VARCHAR,                 -- NULL: the mention as a whole
    label          VARCHAR NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
    model_label    VARCHAR,                 -- what the model said when the person corrected it (NULL: unscored)
    model          VARCHAR,                 -- the model that had scored it (mentions.sentiment_model)
    corrected_by   VARCHAR NOT NULL,        -- a roster name, or an analyst's name
    corrected_at   TIMESTAMPTZ NOT NULL,
    via            VARCHAR NOT NULL         -- desk, cli or sql
);

CREATE VIEW latest_sentiment_corrections AS
SELECT mention_key, brand, label, model_label, model, corrected_by, corrected_at, via
FROM sentiment_corrections
QUALIFY row_number() OVER (PARTITION BY mention_key, brand ORDER BY corrected_at DESC) = 1;

-- Earned mentions with a person's correction of the mention as a whole in place of the model's label.
CREATE OR REPLACE VIEW earned_mentions AS
SELECT m.* REPLACE (coalesce(c.label, m.sentiment_label) AS sentiment_label)
FROM mentions AS m
LEFT JOIN latest_sentiment_corrections AS c ON c.mention_key = m.mention_key AND c.brand IS NULL
WHERE NOT m.is_owned AND NOT m.is_deleted;

CREATE OR REPLACE MACRO earned_brand_mentions_between(start_ts, end_ts) AS TABLE
SELECT
    m.mention_key, b.brand, b.role, m.platform, m.mentioned_at, m.author,
    m.reach_estimate, m.reach_low, m.reach_high,
    -- m.sentiment_label is the mention's correction, else the model's label for the mention (earned_mentions).
    coalesce(for_brand.label, for_mention.label, b.sentiment_label, m.sentiment_label) AS sentiment_label
FROM earned_mentions_between(start_ts, end_ts) AS m
JOIN mention_brands AS b USING (mention_key)
LEFT JOIN latest_sentiment_corrections AS for_brand
    ON for_brand.mention_key = m.mention_key AND for_brand.brand = b.brand
LEFT JOIN latest_sentiment_corrections AS for_mention
    ON for_mention.mention_key = m.mention_key AND for_mention.brand IS NULL;

-- Mentions of a brand the model left unscored, counted apart from the three labels.
ALTER TABLE daily_brand_volume ADD COLUMN unscored BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE MACRO brand_volume_of(brand_mentions, period, time_zone) AS TABLE
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
    count(*) FILTER (WHERE sentiment_label = 'negative') AS negative,
    count(*) FILTER (WHERE sentiment_label IS NULL) AS unscored
FROM query_table(brand_mentions)
GROUP BY ALL;

COMMENT ON VIEW earned_mentions IS 'Mentions that are neither owned by a configured brand nor deleted: what other people said. Same columns as the mentions table (docs/data-dictionary.md), with sentiment_label corrected where a person corrected the mention as a whole (sentiment_corrections).';
COMMENT ON VIEW latest_sentiment_corrections IS 'The correction in force for each mention and brand (brand NULL: the mention as a whole): the latest row of sentiment_corrections.';
COMMENT ON MACRO TABLE earned_brand_mentions_between IS 'earned_mentions_between once for each brand or competitor a mention names: mention_key, brand, role, platform, mentioned_at, author, reach_estimate, reach_low, reach_high, sentiment_label. sentiment_label is the label for that brand: a person''s correction of the brand, else of the mention, else the model''s label for the brand, else for the mention (NULL: unscored). The rows brand_volume_of and unique_author_reach_of aggregate.';
COMMENT ON MACRO TABLE brand_volume_of IS 'Volume per period (its period_day, as day), brand and platform, over the table or CTE named brand_mentions (rows of earned_brand_mentions_between): mentions, unique_authors (distinct authors), reach (sum of potential reach), the positive, neutral and negative split, and unscored (no label: never counted as neutral). A mention of two brands counts once for each. daily_volume is this per UTC day. Example: WITH m AS (SELECT * FROM earned_brand_mentions_between(TIMESTAMPTZ ''2026-10-05'', TIMESTAMPTZ ''2026-11-02'')) SELECT * FROM brand_volume_of(''m'', ''week'', ''Europe/London'').';
