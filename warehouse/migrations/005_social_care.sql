-- Social care: playbook categories of mentions, triage items routed to queues with their service
-- level, the audit trail of every triage action, engagement observations (for velocity), spikes
-- and alerts.

CREATE TABLE mention_categories (
    mention_key  VARCHAR NOT NULL,
    category     VARCHAR NOT NULL,
    PRIMARY KEY (mention_key, category)
);

CREATE TABLE engagement_observations (
    mention_key  VARCHAR NOT NULL,
    observed_at  TIMESTAMPTZ NOT NULL,  -- end of the data interval of the run that saw it
    engagement   BIGINT NOT NULL,       -- interactions: likes, reposts, replies, quotes, points, comments
    PRIMARY KEY (mention_key, observed_at)
);

CREATE TABLE triage_items (
    mention_key              VARCHAR PRIMARY KEY,
    brand                    VARCHAR NOT NULL,
    category                 VARCHAR NOT NULL,
    queue                    VARCHAR NOT NULL,
    routed_by                VARCHAR NOT NULL,  -- routing rule index, or the category's or default queue
    priority                 DOUBLE NOT NULL,
    priority_model           VARCHAR NOT NULL,
    escalated                BOOLEAN NOT NULL,
    status                   VARCHAR NOT NULL,  -- open, claimed, responded, closed
    assignee                 VARCHAR,
    required_skills          VARCHAR[] NOT NULL,
    opened_at                TIMESTAMPTZ NOT NULL,
    sla_minutes              INTEGER NOT NULL,
    due_at                   TIMESTAMPTZ NOT NULL,
    first_response_at        TIMESTAMPTZ,
    first_response_url       VARCHAR,
    first_response_minutes   DOUBLE,  -- business minutes from opened_at to first_response_at
    closed_at                TIMESTAMPTZ,
    updated_at               TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE triage_action_ids START 1;

CREATE TABLE triage_actions (
    action_id    BIGINT PRIMARY KEY DEFAULT nextval('triage_action_ids'),
    mention_key  VARCHAR NOT NULL,
    action       VARCHAR NOT NULL,  -- routed, assigned, claimed, note, responded, closed, reopened, reassigned, escalated, erased
    actor        VARCHAR NOT NULL,
    acted_at     TIMESTAMPTZ NOT NULL,
    detail       JSON NOT NULL
);

CREATE TABLE spikes (
    brand        VARCHAR NOT NULL,
    category     VARCHAR NOT NULL,  -- '' for all of the brand's mentions
    hour_start   TIMESTAMPTZ NOT NULL,
    peak_hour    TIMESTAMPTZ NOT NULL,
    mentions     INTEGER NOT NULL,
    baseline     DOUBLE NOT NULL,
    score        DOUBLE NOT NULL,
    spike_model  VARCHAR NOT NULL,
    explanation  JSON NOT NULL,
    detected_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (brand, category, hour_start)
);

CREATE TABLE alerts (
    alert_key       VARCHAR PRIMARY KEY,
    kind            VARCHAR NOT NULL,      -- spike, breach, escalation
    subject         VARCHAR NOT NULL,
    body            VARCHAR NOT NULL,
    raised_at       TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,           -- when every configured channel had it
    channels        VARCHAR[] NOT NULL DEFAULT [],  -- channels that have it
    delivery_error  VARCHAR
);

-- The items waiting for a person: open or claimed, with the mention, escalated first, then by
-- priority and due time. `minutes_to_due` is wall-clock time to the due time (negative: overdue).
CREATE VIEW triage_queue AS
SELECT
    t.queue, t.mention_key, t.category, t.brand, t.priority, t.escalated, t.status, t.assignee,
    t.opened_at, t.due_at,
    round((epoch(t.due_at) - epoch(now())) / 60, 1) AS minutes_to_due,
    t.due_at < now() AS overdue,
    m.platform, m.url, m.author_handle, m.text, m.sentiment_label, m.reach_estimate
FROM triage_items AS t JOIN mentions AS m USING (mention_key)
WHERE t.status IN ('open', 'claimed')
ORDER BY t.escalated DESC, t.priority DESC, t.due_at;

-- Service levels per queue, agent and UTC day the items were opened. An item is answered within its
-- SLA when its first response came by its due time; a breach is a first response after it, or none
-- yet with the due time past.
CREATE VIEW service_levels AS
SELECT
    queue,
    coalesce(assignee, '(unassigned)') AS agent,
    CAST(timezone('UTC', opened_at) AS DATE) AS day,
    count(*) AS items,
    count(first_response_at) AS responded,
    count(*) FILTER (WHERE first_response_at <= due_at) AS within_sla,
    round(count(*) FILTER (WHERE first_response_at <= due_at) / count(*), 4) AS share_within_sla,
    median(first_response_minutes) AS median_first_response_minutes,
    count(*) FILTER (WHERE first_response_at > due_at OR (first_response_at IS NULL AND due_at < now())) AS breaches,
    count(*) FILTER (WHERE status IN ('open', 'claimed')) AS backlog,
    max(round((epoch(now()) - epoch(opened_at)) / 60, 1)) FILTER (WHERE status IN ('open', 'claimed'))
        AS oldest_backlog_minutes
FROM triage_items
GROUP BY ALL;
