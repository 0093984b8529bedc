-- Issue 13. When the daily aggregates counted a correction of sentiment.
--
-- The desk and `overheard sentiment correct` recompute the aggregates of the corrected mention's day in
-- the transaction that records the correction, and set counted_at. An analyst's correction by SQL
-- (`INSERT INTO sentiment_corrections ... via 'sql'`) leaves it NULL: the next recomputation of the
-- aggregates (every load, or `overheard sentiment correct --count-pending`) recomputes the days of those
-- mentions too and sets it (warehouse/daily_aggregates.py).
ALTER TABLE sentiment_corrections ADD COLUMN counted_at TIMESTAMPTZ;
