-- Edge nodes: each authenticates with its own token (stored as a SHA-256 hash) and opens
-- every connection to the control node itself.
CREATE TABLE edges (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    token_hash   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_ms BIGINT
);

-- The edge a source's segments come through (set by the first edge that forwards it).
ALTER TABLE sources ADD COLUMN edge_id TEXT;

-- On an edge: the segments the control node has confirmed, so none is sent twice.
CREATE TABLE edge_forwarded (
    source_id TEXT NOT NULL,
    msn       BIGINT NOT NULL,
    PRIMARY KEY (source_id, msn)
);
