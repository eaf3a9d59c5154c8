-- API tokens: only the SHA-256 of each secret is stored.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- Buckets created through the API on remote backends (fs buckets are folders under the data dir).
CREATE TABLE buckets (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    profile    TEXT,
    remote     TEXT,
    created_at BIGINT NOT NULL
);
