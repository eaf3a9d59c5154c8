-- Cluster coordination: a named lease is held by one node until it lapses (the edge-liveness
-- sweeper runs on one node at a time; the first-start admin token is made by one node only).
CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
