-- Issue 11. A run's matched mentions are new, seen before (the warehouse had them from an earlier run),
-- or repeated (another source or entry of the same run gave them first): the summary accounts for each.
ALTER TABLE runs ADD COLUMN mentions_seen_before INTEGER NOT NULL DEFAULT 0;
-- Runs recorded before the column: the matched mentions that were not new (repeats among them).
UPDATE runs SET mentions_seen_before = greatest(mentions_matched - mentions_new, 0);

-- The runs whose mentions a care step has triaged. The next care step also triages the earned mentions of
-- recent runs missing here (their load committed, their care step failed or never ran): care/triage.py.
CREATE TABLE triaged_runs (
    run_id      VARCHAR PRIMARY KEY,
    triaged_at  TIMESTAMPTZ NOT NULL  -- the clock (data interval end) of the care step that triaged them
);
