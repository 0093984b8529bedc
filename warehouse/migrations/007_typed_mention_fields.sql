-- The mention's typed cross-stage fields as columns (core.mention.Mention), filled by the load from
-- the staged enriched mention, whose fields the load's columns are derived from. Mentions loaded
-- before had these facts only in `extras`, where each collector kept them its own way: they are
-- copied out here, so an upgraded warehouse tells the same stories as a new one. (`earned_mentions`,
-- a SELECT * view, shows the new columns without being rebuilt.)

ALTER TABLE mentions ADD COLUMN lang_hint VARCHAR;
ALTER TABLE mentions ADD COLUMN amplifies VARCHAR;
ALTER TABLE mentions ADD COLUMN shared_links VARCHAR[] NOT NULL DEFAULT [];
ALTER TABLE mentions ADD COLUMN community_size BIGINT;
ALTER TABLE mentions ADD COLUMN score_hidden BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE mentions ADD COLUMN publisher VARCHAR;

-- amplifies: the key of the post a retweet, reblog or repost passes on.
UPDATE mentions SET amplifies = coalesce(
    extras->>'retweet_of',
    extras->>'reblog_of',
    extras->>'repost_of',
    CASE WHEN platform = 'x' THEN 'x:' || list_filter(
        from_json(extras->'referenced_tweets', '[{"type": "VARCHAR", "id": "VARCHAR"}]'),
        lambda reference: reference.type = 'retweeted'
    )[1].id END
)
WHERE extras IS NOT NULL;

-- shared_links: X quoted posts (as their URLs), then the URLs X expanded; a Reddit link post's
-- link; any collector's `links`. Strings only, in that order.
UPDATE mentions SET shared_links = list_concat(
    CASE WHEN platform = 'x' THEN list_transform(
        list_filter(
            from_json(extras->'referenced_tweets', '[{"type": "VARCHAR", "id": "VARCHAR"}]'),
            lambda reference: reference.type = 'quoted' AND reference.id IS NOT NULL
        ),
        lambda reference: 'https://x.com/i/web/status/' || reference.id
    ) END,
    CASE WHEN platform = 'x' THEN list_transform(
        list_filter(json_extract(extras, '$.entities.urls[*]'), lambda url: json_type(url) = 'VARCHAR'),
        lambda url: url->>'$'
    ) END,
    CASE WHEN platform = 'reddit' AND NOT coalesce(TRY_CAST(extras->>'is_self' AS BOOLEAN), false) THEN
        list_filter([coalesce(extras->>'url_overridden_by_dest', extras->>'url')], lambda url: url IS NOT NULL)
    END,
    list_transform(
        list_filter(json_extract(extras, '$.links[*]'), lambda url: json_type(url) = 'VARCHAR'),
        lambda url: url->>'$'
    )
)
WHERE extras IS NOT NULL;

-- community_size: a subreddit's subscribers.
UPDATE mentions SET community_size = TRY_CAST(extras->>'subreddit_subscribers' AS BIGINT)
WHERE platform = 'reddit' AND extras IS NOT NULL;

-- publisher: Google News's outlet, a feed's title, a crawled site's name, a post's subreddit.
UPDATE mentions SET publisher = coalesce(
    extras->>'publisher',
    extras->>'feed_title',
    extras->>'sitename',
    CASE WHEN platform = 'reddit' THEN 'r/' || (extras->>'subreddit') END
)
WHERE extras IS NOT NULL;
