-- App Store reviews (source kind app_reviews): each review's stars as a typed column of the mention
-- (core.mention.Mention.rating), and the brand or competitor a mention is about by where it was found
-- (Mention.about_brand: a configured app's reviews belong to the app's brand whether or not they name it).
-- Both are NULL for every mention loaded before, and for every mention that is not an app review.

ALTER TABLE mentions ADD COLUMN rating BIGINT;
ALTER TABLE mentions ADD COLUMN about_brand VARCHAR;
