-- Issue 13. The views count each brand's own sentiment, and mentions left unscored apart.
--
-- daily_volume and net_sentiment gain `unscored`: mentions of the brand the model did not score (a
-- language no configured model covers; mentions.sentiment_reason says why), which are in `mentions` but
-- in none of positive, neutral, negative. Their labels were already the brand's own (the daily aggregates
-- hold brand_volume_of over earned_brand_mentions_between, migration 013); the comments now say so.
-- top_authors counted the mention's label for every brand it names; it now counts the brand's own, from
-- earned_brand_mentions_between too.

CREATE OR REPLACE VIEW daily_volume AS
SELECT day, brand, role, platform, mentions, unique_authors, reach, positive, neutral, negative, unscored
FROM daily_brand_volume;

CREATE OR REPLACE VIEW net_sentiment AS
WITH per_day AS (
    SELECT day, brand, sum(positive) AS positive, sum(neutral) AS neutral, sum(negative) AS negative,
           sum(unscored) AS unscored
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
        AS trend_7d,
    unscored
FROM rolling;

CREATE OR REPLACE VIEW top_authors AS
WITH newest AS (
    SELECT max(coalesce(published_at, first_seen_at)) - INTERVAL 28 DAY AS since FROM mentions
), recent AS (
    SELECT b.*, m.author_followers
    FROM earned_brand_mentions_between((SELECT since FROM newest), TIMESTAMPTZ 'infinity') AS b
    JOIN mentions AS m USING (mention_key)
    WHERE b.mentioned_at > (SELECT since FROM newest)
)
SELECT
    brand,
    author,
    platform,
    count(*) AS mentions,
    max(author_followers) AS followers,
    sum(reach_estimate) AS reach,
    count(*) FILTER (WHERE sentiment_label = 'negative') AS negative,
    count(*) FILTER (WHERE sentiment_label = 'positive') AS positive,
    max(mentioned_at) AS last_mentioned_at
FROM recent
GROUP BY ALL
ORDER BY mentions DESC, reach DESC;

COMMENT ON VIEW daily_volume IS 'Earned mentions per UTC day, brand (or competitor) and platform, with distinct authors, potential reach and the sentiment split. A mention of two brands counts once for each, with that brand''s own label (earned_brand_mentions_between: a person''s correction, else the model''s label for the brand, else for the mention).';
COMMENT ON COLUMN daily_volume.day IS 'UTC day of publication (else of first sighting)';
COMMENT ON COLUMN daily_volume.brand IS 'brand or competitor';
COMMENT ON COLUMN daily_volume.role IS 'brand or competitor';
COMMENT ON COLUMN daily_volume.platform IS 'news, blog, x, reddit, hackernews, mastodon, bluesky';
COMMENT ON COLUMN daily_volume.mentions IS 'earned mentions';
COMMENT ON COLUMN daily_volume.unique_authors IS 'distinct authors (platform:handle, or platform:source for web items)';
COMMENT ON COLUMN daily_volume.reach IS 'sum of potential reach (reach_estimate); sums an author''s audience once per mention, see daily_unique_author_reach';
COMMENT ON COLUMN daily_volume.positive IS 'mentions labelled positive for the brand';
COMMENT ON COLUMN daily_volume.neutral IS 'mentions labelled neutral for the brand';
COMMENT ON COLUMN daily_volume.negative IS 'mentions labelled negative for the brand';
COMMENT ON COLUMN daily_volume.unscored IS 'mentions left unscored (a language no configured sentiment model covers; mentions.sentiment_reason says why): in mentions, never counted as neutral';

COMMENT ON VIEW net_sentiment IS 'Net sentiment per brand and UTC day, (P - N) / (P + N) over earned mentions labelled positive (P) and negative (N) for that brand, with its 7-day value and trend. NULL when there is no positive or negative mention. Unscored mentions count in neither.';
COMMENT ON COLUMN net_sentiment.day IS 'UTC day';
COMMENT ON COLUMN net_sentiment.brand IS 'brand or competitor';
COMMENT ON COLUMN net_sentiment.positive IS 'mentions labelled positive for the brand';
COMMENT ON COLUMN net_sentiment.neutral IS 'mentions labelled neutral for the brand';
COMMENT ON COLUMN net_sentiment.negative IS 'mentions labelled negative for the brand';
COMMENT ON COLUMN net_sentiment.net_sentiment IS '(P - N) / (P + N) that day, from -1 (all negative) to 1 (all positive)';
COMMENT ON COLUMN net_sentiment.net_sentiment_7d IS 'the same over the 7 days ending that day';
COMMENT ON COLUMN net_sentiment.trend_7d IS 'net_sentiment_7d minus the 7 days before it: above 0 is improving';
COMMENT ON COLUMN net_sentiment.unscored IS 'mentions the model left unscored that day (not in P, N or neutral)';

COMMENT ON VIEW top_authors IS 'Who talks about each brand most, over the 28 days up to the newest mention in the warehouse: earned mentions per brand and author, most mentions first.';
COMMENT ON COLUMN top_authors.brand IS 'brand or competitor';
COMMENT ON COLUMN top_authors.author IS 'platform:handle, or platform:source for web items';
COMMENT ON COLUMN top_authors.platform IS 'the platform';
COMMENT ON COLUMN top_authors.mentions IS 'earned mentions of the brand by the author';
COMMENT ON COLUMN top_authors.followers IS 'the author''s followers (largest seen)';
COMMENT ON COLUMN top_authors.reach IS 'sum of potential reach of those mentions';
COMMENT ON COLUMN top_authors.negative IS 'of which labelled negative for the brand';
COMMENT ON COLUMN top_authors.positive IS 'of which labelled positive for the brand';
COMMENT ON COLUMN top_authors.last_mentioned_at IS 'their latest mention';
