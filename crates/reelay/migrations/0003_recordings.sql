-- Recordings: a source's segments between start and end, copied into the recordings bucket
-- under deterministic keys (<source id>/<msn>.<ext>) shared by overlapping recordings.
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    source_id   TEXT NOT NULL,
    alias       TEXT NOT NULL,
    description TEXT NOT NULL,
    start_ms    BIGINT NOT NULL,
    end_ms      BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE recording_segments (
    recording_id  TEXT NOT NULL,
    msn           BIGINT NOT NULL,
    object_key    TEXT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    discontinuity BIGINT NOT NULL,
    pdt_ms        BIGINT NOT NULL,
    map_key       TEXT,
    PRIMARY KEY (recording_id, msn)
);
