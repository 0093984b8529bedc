-- The first schema: mentions and their brands, per-source run records and cursors.

CREATE TABLE mentions (
    mention_key          VARCHAR PRIMARY KEY,  -- canonical URL for web items, platform:native_id otherwise
    platform             VARCHAR NOT NULL,
    source               VARCHAR NOT NULL,
    native_id            VARCHAR,
    url                  VARCHAR,
    title                VARCHAR,
    text                 VARCHAR NOT NULL,
    author_handle        VARCHAR,
    author_name          VARCHAR,
    author_followers     BIGINT,
    published_at         TIMESTAMPTZ,
    engagement           JSON,
    parent_id            VARCHAR,
    thread_id            VARCHAR,
    extras               JSON,
    lang                 VARCHAR,
    lang_confidence      DOUBLE,
    lang_model           VARCHAR,
    sentiment_label      VARCHAR,
    sentiment_score      DOUBLE,
    sentiment_negative   DOUBLE,
    sentiment_neutral    DOUBLE,
    sentiment_positive   DOUBLE,
    sentiment_model      VARCHAR,
    reach_estimate       BIGINT,
    reach_model          VARCHAR,
    is_owned             BOOLEAN NOT NULL,
    owned_by             VARCHAR,
    is_deleted           BOOLEAN NOT NULL DEFAULT false,
    deleted_at           TIMESTAMPTZ,
    first_run_id         VARCHAR NOT NULL,
    first_seen_at        TIMESTAMPTZ NOT NULL,  -- end of the data interval of the run that first saw it
    last_run_id          VARCHAR NOT NULL,
    last_seen_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE mention_brands (
    mention_key    VARCHAR NOT NULL,
    brand          VARCHAR NOT NULL,
    role           VARCHAR NOT NULL,  -- brand or competitor
    matched_terms  VARCHAR[] NOT NULL,
    PRIMARY KEY (mention_key, brand)
);

CREATE TABLE runs (
    run_id              VARCHAR NOT NULL,
    source              VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL,
    status              VARCHAR NOT NULL,  -- ok, empty, failed, skipped
    items_fetched       INTEGER NOT NULL,
    mentions_collected  INTEGER NOT NULL,
    mentions_matched    INTEGER NOT NULL,
    dropped_unmatched   INTEGER NOT NULL,
    mentions_new        INTEGER NOT NULL,
    error               VARCHAR,
    warnings            VARCHAR[] NOT NULL,
    duration_seconds    DOUBLE NOT NULL,
    window_start        TIMESTAMPTZ NOT NULL,
    window_end          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, source)
);

CREATE TABLE source_cursors (
    source      VARCHAR PRIMARY KEY,
    cursor      JSON NOT NULL,
    run_id      VARCHAR NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL  -- end of the data interval of the run that advanced it
);

CREATE VIEW earned_mentions AS
SELECT * FROM mentions WHERE NOT is_owned AND NOT is_deleted;
