-- Two typed fields of the mention (core.mention.Mention) as columns, filled by the load from the
-- staged enriched mention:
--   published_precision  'second' when the source states a full timestamp, 'day' when it states only
--                        the date (published_at is then that day at 00:00 UTC, and hour-level
--                        analytics count the mention at first_seen_at instead);
--   authors              everyone a byline credits, in its order (the first is author_handle), so that
--                        one co-author can be found and erased; empty where author_handle is the only one.

ALTER TABLE mentions ADD COLUMN published_precision VARCHAR NOT NULL DEFAULT 'second';
ALTER TABLE mentions ADD COLUMN authors VARCHAR[] NOT NULL DEFAULT [];

-- Blog pages loaded before: the crawler stored a date it knew only to the day (a date in the URL,
-- a date-only meta tag) as midnight UTC. A crawled page stamped exactly 00:00:00 UTC is taken to be
-- one of those, so that it no longer piles into hour 00.
UPDATE mentions SET published_precision = 'day'
WHERE platform = 'blog' AND published_at IS NOT NULL AND CAST(timezone('UTC', published_at) AS TIME) = TIME '00:00:00';

-- Their bylines: the extractor joined several authors with '; ' in author_handle.
UPDATE mentions SET authors = list_filter(list_transform(string_split(author_handle, ';'), lambda name: trim(name)), lambda name: name <> '')
WHERE platform = 'blog' AND author_handle IS NOT NULL;
