-- The views analysts use every day, each described with COMMENT ON (docs/views.md is generated from
-- these comments; tests/test_docs.py fails when the two drift). Days are UTC days of publication
-- (else of first sighting). The "recent" views cover the 28 days up to the newest mention, so they
-- stay fast however much history the warehouse holds; filter `earned_mentions` for other periods.

-- Daily aggregates, recomputed by each write for the days it changed (warehouse/daily_aggregates.py
-- holds the aggregation and builds these tables for existing mentions right after this migration).
CREATE TABLE daily_brand_volume (
    day             DATE NOT NULL,
    brand           VARCHAR NOT NULL,
    role            VARCHAR NOT NULL,
    platform        VARCHAR NOT NULL,
    mentions        BIGINT NOT NULL,
    unique_authors  BIGINT NOT NULL,
    reach           BIGINT NOT NULL,
    positive        BIGINT NOT NULL,
    neutral         BIGINT NOT NULL,
    negative        BIGINT NOT NULL,
    PRIMARY KEY (day, brand, platform)
);

CREATE TABLE daily_brand_authors (
    day                       DATE NOT NULL,
    brand                     VARCHAR NOT NULL,
    mentions                  BIGINT NOT NULL,
    unique_authors            BIGINT NOT NULL,
    unique_author_reach       BIGINT NOT NULL,
    unique_author_reach_low   BIGINT NOT NULL,
    unique_author_reach_high  BIGINT NOT NULL,
    PRIMARY KEY (day, brand)
);

CREATE VIEW daily_volume AS
SELECT day, brand, role, platform, mentions, unique_authors, reach, positive, neutral, negative FROM daily_brand_volume;

CREATE OR REPLACE VIEW daily_unique_author_reach AS
SELECT brand, day, mentions, unique_authors, unique_author_reach, unique_author_reach_low, unique_author_reach_high
FROM daily_brand_authors;

CREATE VIEW share_of_voice AS
WITH per_brand AS (
    SELECT day, brand, any_value(role) AS role, sum(mentions) AS mentions, sum(reach) AS reach
    FROM daily_volume GROUP BY day, brand
), authors AS (
    SELECT day, brand, unique_authors, unique_author_reach FROM daily_unique_author_reach
)
SELECT
    p.day, p.brand, p.role, p.mentions, p.reach, a.unique_authors,
    round(p.mentions / sum(p.mentions) OVER (PARTITION BY p.day), 4) AS share_by_volume,
    round(p.reach / nullif(sum(p.reach) OVER (PARTITION BY p.day), 0), 4) AS share_by_reach,
    round(a.unique_authors / sum(a.unique_authors) OVER (PARTITION BY p.day), 4) AS share_by_unique_authors
FROM per_brand AS p JOIN authors AS a USING (day, brand);

CREATE VIEW net_sentiment AS
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
    round((positive - negative) / nullif(positive + negative, 0), 4) AS net_sentiment,
    round((positive_7d - negative_7d) / nullif(positive_7d + negative_7d, 0), 4) AS net_sentiment_7d,
    round((positive_7d - negative_7d) / nullif(positive_7d + negative_7d, 0)
          - (positive_prior_7d - negative_prior_7d) / nullif(positive_prior_7d + negative_prior_7d, 0), 4)
        AS trend_7d
FROM rolling;

CREATE VIEW top_authors AS
WITH recent AS (
    SELECT m.*, b.brand
    FROM earned_mentions AS m JOIN mention_brands AS b USING (mention_key)
    WHERE coalesce(m.published_at, m.first_seen_at) > (SELECT max(coalesce(published_at, first_seen_at)) FROM mentions)
        - INTERVAL 28 DAY
)
SELECT
    brand,
    platform || ':' || coalesce(author_handle, source) AS author,
    platform,
    count(*) AS mentions,
    max(author_followers) AS followers,
    sum(reach_estimate) AS reach,
    count(*) FILTER (WHERE sentiment_label = 'negative') AS negative,
    count(*) FILTER (WHERE sentiment_label = 'positive') AS positive,
    max(coalesce(published_at, first_seen_at)) AS last_mentioned_at
FROM recent
GROUP BY ALL
ORDER BY mentions DESC, reach DESC;

CREATE VIEW top_stories AS
WITH recent AS (
    SELECT * FROM mentions
    WHERE story_id IS NOT NULL AND NOT is_deleted
      AND coalesce(published_at, first_seen_at) > (SELECT max(coalesce(published_at, first_seen_at)) FROM mentions)
        - INTERVAL 28 DAY
)
SELECT
    story_id,
    any_value(title ORDER BY mention_key = story_id DESC, published_at) AS title,
    any_value(url ORDER BY mention_key = story_id DESC, published_at) AS url,
    count(*) AS mentions,
    count(*) FILTER (WHERE story_reason = 'retweet') AS amplifiers,
    count(DISTINCT platform || ':' || coalesce(author_handle, source)) AS authors,
    sum(reach_estimate) AS reach,
    min(published_at) AS first_published_at,
    max(published_at) AS last_published_at
FROM recent
GROUP BY story_id
ORDER BY reach DESC NULLS LAST, mentions DESC;

COMMENT ON VIEW earned_mentions IS 'Mentions that are neither owned by a configured brand nor deleted: what other people said. Same columns as the mentions table (docs/data-dictionary.md).';

COMMENT ON VIEW daily_unique_author_reach IS 'Per brand and UTC day, over earned mentions: reach that counts each author''s audience once (their largest reach that day), so nobody sums the same audience twice. Web items count their source as the author.';
COMMENT ON COLUMN daily_unique_author_reach.brand IS 'brand or competitor';
COMMENT ON COLUMN daily_unique_author_reach.day IS 'UTC day of publication (else of first sighting)';
COMMENT ON COLUMN daily_unique_author_reach.mentions IS 'earned mentions that day';
COMMENT ON COLUMN daily_unique_author_reach.unique_authors IS 'distinct authors (platform:handle, or platform:source for web items)';
COMMENT ON COLUMN daily_unique_author_reach.unique_author_reach IS 'sum over authors of their largest potential reach that day';
COMMENT ON COLUMN daily_unique_author_reach.unique_author_reach_low IS 'the same for the low end of the estimated actual reach';
COMMENT ON COLUMN daily_unique_author_reach.unique_author_reach_high IS 'the same for the high end';

COMMENT ON VIEW daily_volume IS 'Earned mentions per UTC day, brand (or competitor) and platform, with distinct authors, potential reach and the sentiment split. A mention of two brands counts once for each.';
COMMENT ON COLUMN daily_volume.day IS 'UTC day of publication (else of first sighting)';
COMMENT ON COLUMN daily_volume.brand IS 'brand or competitor';
COMMENT ON COLUMN daily_volume.role IS 'brand or competitor';
COMMENT ON COLUMN daily_volume.platform IS 'news, blog, x, reddit, hackernews, mastodon, bluesky';
COMMENT ON COLUMN daily_volume.mentions IS 'earned mentions';
COMMENT ON COLUMN daily_volume.unique_authors IS 'distinct authors (platform:handle, or platform:source for web items)';
COMMENT ON COLUMN daily_volume.reach IS 'sum of potential reach (reach_estimate); sums an author''s audience once per mention, see daily_unique_author_reach';
COMMENT ON COLUMN daily_volume.positive IS 'mentions labelled positive';
COMMENT ON COLUMN daily_volume.neutral IS 'mentions labelled neutral';
COMMENT ON COLUMN daily_volume.negative IS 'mentions labelled negative';

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

COMMENT ON VIEW top_authors IS 'Who talks about each brand most, over the 28 days up to the newest mention in the warehouse: earned mentions per brand and author, most mentions first.';
COMMENT ON COLUMN top_authors.brand IS 'brand or competitor';
COMMENT ON COLUMN top_authors.author IS 'platform:handle, or platform:source for web items';
COMMENT ON COLUMN top_authors.platform IS 'the platform';
COMMENT ON COLUMN top_authors.mentions IS 'earned mentions of the brand by the author';
COMMENT ON COLUMN top_authors.followers IS 'the author''s followers (largest seen)';
COMMENT ON COLUMN top_authors.reach IS 'sum of potential reach of those mentions';
COMMENT ON COLUMN top_authors.negative IS 'of which labelled negative';
COMMENT ON COLUMN top_authors.positive IS 'of which labelled positive';
COMMENT ON COLUMN top_authors.last_mentioned_at IS 'their latest mention';

COMMENT ON VIEW top_stories IS 'The stories (stories-v1: a post and its retweets, an article and the posts linking it, near-duplicate texts) with mentions in the 28 days up to the newest mention in the warehouse, largest reach first.';
COMMENT ON COLUMN top_stories.story_id IS 'the story''s root key (see mentions.story_id)';
COMMENT ON COLUMN top_stories.title IS 'the root''s title when collected, else the earliest mention''s';
COMMENT ON COLUMN top_stories.url IS 'the root''s URL when collected, else the earliest mention''s';
COMMENT ON COLUMN top_stories.mentions IS 'its mentions in those 28 days (owned included, deleted not)';
COMMENT ON COLUMN top_stories.amplifiers IS 'of which retweets, reblogs and reposts';
COMMENT ON COLUMN top_stories.authors IS 'distinct authors';
COMMENT ON COLUMN top_stories.reach IS 'sum of potential reach';
COMMENT ON COLUMN top_stories.first_published_at IS 'earliest publication';
COMMENT ON COLUMN top_stories.last_published_at IS 'latest publication';

COMMENT ON VIEW stories IS 'One row per story over all mentions that are not deleted (owned included): how far one post, article or copied text travelled. For recent stories, top_stories is faster.';
COMMENT ON COLUMN stories.story_id IS 'the story''s root key (see mentions.story_id)';
COMMENT ON COLUMN stories.mentions IS 'mentions in the story';
COMMENT ON COLUMN stories.amplifiers IS 'of which retweets, reblogs and reposts';
COMMENT ON COLUMN stories.amplified_reach IS 'followers of the amplifiers, summed';
COMMENT ON COLUMN stories.links IS 'mentions that link to the story''s page or post';
COMMENT ON COLUMN stories.near_duplicates IS 'mentions grouped because their text is nearly the same';
COMMENT ON COLUMN stories.authors IS 'distinct authors (platform:handle, or platform:source for web items)';
COMMENT ON COLUMN stories.reach_estimate IS 'potential reach of all its mentions, summed';
COMMENT ON COLUMN stories.first_published_at IS 'earliest publication';
COMMENT ON COLUMN stories.last_published_at IS 'latest publication';
COMMENT ON COLUMN stories.root_collected IS 'the root itself is in mentions (false when, say, only links to an article were collected)';

COMMENT ON VIEW triage_queue IS 'The items waiting for a person (open or claimed) with their mention: escalated first, then by priority and due time. See docs/social-care.md.';
COMMENT ON COLUMN triage_queue.queue IS 'the queue';
COMMENT ON COLUMN triage_queue.mention_key IS 'the mention';
COMMENT ON COLUMN triage_queue.category IS 'its playbook category';
COMMENT ON COLUMN triage_queue.brand IS 'its brand or competitor';
COMMENT ON COLUMN triage_queue.priority IS 'priority-v1, 0 to 1';
COMMENT ON COLUMN triage_queue.escalated IS 'escalated';
COMMENT ON COLUMN triage_queue.status IS 'open or claimed';
COMMENT ON COLUMN triage_queue.assignee IS 'assigned agent';
COMMENT ON COLUMN triage_queue.opened_at IS 'when the SLA clock started (Overheard first saw the mention)';
COMMENT ON COLUMN triage_queue.due_at IS 'first response due, on the queue''s business calendar';
COMMENT ON COLUMN triage_queue.minutes_to_due IS 'wall-clock minutes until due (negative: overdue)';
COMMENT ON COLUMN triage_queue.overdue IS 'past its due time';
COMMENT ON COLUMN triage_queue.platform IS 'where it was posted';
COMMENT ON COLUMN triage_queue.url IS 'link to it';
COMMENT ON COLUMN triage_queue.author_handle IS 'its author';
COMMENT ON COLUMN triage_queue.text IS 'its text';
COMMENT ON COLUMN triage_queue.sentiment_label IS 'its sentiment';
COMMENT ON COLUMN triage_queue.reach_estimate IS 'its potential reach';

COMMENT ON VIEW service_levels IS 'Service levels per queue, agent and UTC day the items were opened: answered within the SLA (first response by the due time), first-response time in business minutes, breaches and backlog.';
COMMENT ON COLUMN service_levels.queue IS 'the queue';
COMMENT ON COLUMN service_levels.agent IS 'the assignee, (unassigned) when none';
COMMENT ON COLUMN service_levels.day IS 'UTC day the items were opened';
COMMENT ON COLUMN service_levels.items IS 'items opened';
COMMENT ON COLUMN service_levels.responded IS 'of which with a first response';
COMMENT ON COLUMN service_levels.within_sla IS 'first response by the due time';
COMMENT ON COLUMN service_levels.share_within_sla IS 'within_sla / items';
COMMENT ON COLUMN service_levels.median_first_response_minutes IS 'median business minutes to the first response';
COMMENT ON COLUMN service_levels.breaches IS 'first response after the due time, or none yet with the due time past';
COMMENT ON COLUMN service_levels.backlog IS 'still open or claimed';
COMMENT ON COLUMN service_levels.oldest_backlog_minutes IS 'wall-clock age of the oldest of those';

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
