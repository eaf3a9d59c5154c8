-- Renditions: a source pushes one or more media playlists (an ABR ladder, separate audio), each
-- named after the playlist file it is pushed under ("index" for index.m3u8, LiveMix and edges).
-- Each has its own media sequence numbers and discontinuity count, which never go backwards.
-- sources.next_msn and sources.discontinuities are no longer read: their values move here.
CREATE TABLE renditions (
    source_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    next_msn        BIGINT NOT NULL,
    discontinuities BIGINT NOT NULL,
    PRIMARY KEY (source_id, name)
);
INSERT INTO renditions (source_id, name, next_msn, discontinuities)
    SELECT id, 'index', next_msn, discontinuities FROM sources;

-- The multivariant playlist the encoder last pushed, as it sent it (already validated).
ALTER TABLE sources ADD COLUMN multivariant TEXT;

CREATE TABLE live_segments_by_rendition (
    source_id     TEXT NOT NULL,
    rendition     TEXT NOT NULL,
    msn           BIGINT NOT NULL,
    file          TEXT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    discontinuity BIGINT NOT NULL,
    pdt_ms        BIGINT NOT NULL,
    map_file      TEXT,
    bytes         BIGINT NOT NULL,
    PRIMARY KEY (source_id, rendition, msn)
);
INSERT INTO live_segments_by_rendition
    SELECT source_id, 'index', msn, file, duration_ms, discontinuity, pdt_ms, map_file, bytes
    FROM live_segments;
DROP TABLE live_segments;
ALTER TABLE live_segments_by_rendition RENAME TO live_segments;

CREATE TABLE recording_segments_by_rendition (
    recording_id  TEXT NOT NULL,
    rendition     TEXT NOT NULL,
    msn           BIGINT NOT NULL,
    object_key    TEXT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    discontinuity BIGINT NOT NULL,
    pdt_ms        BIGINT NOT NULL,
    map_key       TEXT,
    -- for bandwidths in a replay's multivariant playlist (0: recorded before renditions)
    bytes         BIGINT NOT NULL,
    PRIMARY KEY (recording_id, rendition, msn)
);
INSERT INTO recording_segments_by_rendition
    SELECT recording_id, 'index', msn, object_key, duration_ms, discontinuity, pdt_ms, map_key, 0
    FROM recording_segments;
DROP TABLE recording_segments;
ALTER TABLE recording_segments_by_rendition RENAME TO recording_segments;
