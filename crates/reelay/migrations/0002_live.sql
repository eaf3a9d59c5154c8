-- Live sources: encoders push HLS for them; media sequence numbers are assigned per source
-- from next_msn and never go backwards, across restarts too.
CREATE TABLE sources (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    description       TEXT NOT NULL,
    target_duration   BIGINT NOT NULL,
    ingest_token_hash TEXT NOT NULL,
    streaming         BIGINT NOT NULL,
    next_msn          BIGINT NOT NULL,
    -- discontinuities ever assigned: with the window's own, gives EXT-X-DISCONTINUITY-SEQUENCE
    discontinuities   BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);

-- Segments in a source's buffer (files under DATA/live/<source id>/).
CREATE TABLE live_segments (
    source_id     TEXT NOT NULL,
    msn           BIGINT NOT NULL,
    file          TEXT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    discontinuity BIGINT NOT NULL,
    pdt_ms        BIGINT NOT NULL,
    map_file      TEXT,
    bytes         BIGINT NOT NULL,
    PRIMARY KEY (source_id, msn)
);
