-- text_truncated (core.mention.Mention): the body was longer than the cap every mention keeps
-- (core.mention.MAX_TEXT_CHARS, 100,000 characters) and `text` is its start. Mentions loaded before
-- kept their whole text: false.

ALTER TABLE mentions ADD COLUMN text_truncated BOOLEAN NOT NULL DEFAULT false;
