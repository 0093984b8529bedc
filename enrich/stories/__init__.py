"""Stories: mentions that say the same thing again, grouped under one story id.

stories-v1. Every mention of a batch gets a story, by the first rule that applies:

1. Already assigned by an earlier batch: it keeps that assignment (a rerun changes nothing).
2. `retweet`: a mention that `amplifies` another (an X retweet, a Mastodon reblog, a Bluesky repost,
   a Reddit crosspost) joins the story of the post it amplifies. `via` is that post's key; the
   post's amplification counts it.
3. `original`: a mention whose own key is already a story id (it was retweeted, quoted or linked
   before it was collected) is that story's original.
4. `link`: a post with `shared_links` joins the story of what it links to: the first link that is a
   known mention or story, else a new story named after its first link. URLs are canonicalised as
   natural keys are (`core.mention.canonical_url`: tracking parameters dropped), links to X statuses
   and Reddit posts become those posts' keys (a quoted X post is shared as its status URL), and
   links to home pages and to the post itself are ignored.
5. `near_duplicate`: a text of at least `MIN_WORDS` words whose word 3-shingles (of its first
   `MAX_WORDS` words: a page's opening says what it is) have an estimated Jaccard similarity of at
   least `SIMILARITY_THRESHOLD` with an earlier mention's joins the story of the most similar one
   (ties: the smaller key). `similarity` is that estimate. Text is the title and the body.
6. `original`: anything else starts a story named after its own key.

A story id is therefore the key of the story's root: the post amplified, the page linked (its
canonical URL, which is its mention key once a feed or crawl collects it), or the first mention of a
group of near-duplicates. Within a batch, mentions are taken in published order (then by key), so the
same mentions give the same story ids in any order. Stories never merge: a mention joins one story,
and assignments already made are never rewritten.

The modules, one concern each:

- `index`: the rules (`StoryIndex`, `STORY_MODEL`), on what they read of a mention (`StorySubject`);
- `minhash`: words, shingles, MinHash signatures and LSH band hashes for near-duplicates;
- `links`: what a shared URL names;
- `store`: what is remembered between batches (`StoryStore`, `MemoryStoryStore`);
- `duckdb_store`: the warehouse's store (`DuckDBStoryStore`: the `mentions.story_*` columns and the
  `story_bands` table) and the stories step after each load (`assign_warehouse_stories`).
"""
